/**
 * Partitioned tasks end to end through the CLI: keys bound as typed prepared-statement
 * parameters, `run --partition`, backfills as one run (ranges, keys, `--where`, `--missing`),
 * failures that do not stop the other partitions and a backfill resumed, and the bad input.
 */
import { describe, expect, it } from 'vitest';
import type { ErrorJson } from '../../src/errors.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject, type TempProject } from '../helpers.js';
import { freshSchema, postgresAvailable } from '../pg.js';

const ORDERS = `-- @task raw_orders
CREATE OR REPLACE TABLE raw.orders AS
SELECT DATE '2026-01-01' + (i % 31)::INT AS day, ['eu', 'jp', 'us'][1 + i % 3] AS region, i AS id, 1.5 AS amount FROM range(930) t(i);
`;

/** Two statements, both using $partition_key, typed DATE by @param. */
const DAILY = `-- @asset analytics.daily_sales
-- @asset_group sales
-- @partitions_by daily(start=2026-01-01)
-- @param partition_key:DATE
-- @freshness max_lag=1h
CREATE TABLE IF NOT EXISTS analytics.daily_sales (day DATE, total DOUBLE, n BIGINT);
DELETE FROM analytics.daily_sales WHERE day = $partition_key;
INSERT INTO analytics.daily_sales SELECT day, sum(amount), count(*) FROM raw.orders WHERE day = $partition_key GROUP BY day;
`;

const BY_REGION = `-- @asset analytics.sales_by_region
-- @partitions_by multi(region=static(eu, jp, us), date=daily(start=2026-01-01))
-- @param date:DATE
CREATE TABLE IF NOT EXISTS analytics.sales_by_region (day DATE, region VARCHAR, n BIGINT, key VARCHAR);
DELETE FROM analytics.sales_by_region WHERE day = $date AND region = $region;
INSERT INTO analytics.sales_by_region SELECT day, region, count(*), $partition_key FROM raw.orders WHERE day = $date AND region = $region GROUP BY ALL;
`;

interface BackfillJson {
  run: { run_id: string; state: string } | null;
  planned: number;
  resumed: boolean;
  succeeded: Array<{ task: string; partition_key: string }>;
  failed: Array<{ task: string; partition_key: string; state: string; error: string }>;
  warnings: string[];
}

async function setUp(env: Record<string, string> = {}): Promise<TempProject> {
  const p = tempProject();
  p.write('tasks/orders.sql', ORDERS);
  p.write('tasks/daily_sales.sql', DAILY);
  p.write('tasks/sales_by_region.sql', BY_REGION);
  const reg = await runCli(['--db', p.db, 'register', p.tasks], { env });
  expect(reg.code, reg.stderr).toBe(0);
  const run = await runCli(['--db', p.db, 'run', '--json'], { env });
  expect(run.code, run.stderr).toBe(0);
  // A plain run builds the unpartitioned task and says what it left out.
  const planned = json<{ jobs: Array<{ task: string }>; warnings: string[] }>(run);
  expect(planned.jobs.map((j) => j.task)).toEqual(['raw_orders']);
  expect(planned.warnings).toEqual([
    expect.stringMatching(/^left out 2 partitioned tasks \(daily_sales, sales_by_region\): build them with duck-orch backfill/),
  ]);
  return p;
}

describe('partitioned runs and backfills (embedded ledger)', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('run --partition binds the key as a DATE in every statement; a key outside the set or hostile is refused and nothing runs', async () => {
    const p = await setUp();
    const one = await runCli(['--db', p.db, 'run', '-s', 'analytics.daily_sales', '--partition', '2026-01-05', '--json']);
    expect(one.code, one.stderr).toBe(0);
    expect(json<{ jobs: Array<{ task: string; partition_key: string; rows: number }> }>(one).jobs).toMatchObject([
      { task: 'daily_sales', partition_key: '2026-01-05', rows: 1 },
    ]);
    expect(await queryDb(p.db, 'SELECT day::VARCHAR, n FROM analytics.daily_sales')).toEqual([['2026-01-05', 30n]]);
    // Again: the DELETE bound to the same key keeps one row.
    expect((await runCli(['--db', p.db, 'run', '-s', 'daily_sales', '--partition', '2026-01-05'])).code).toBe(0);
    expect(await queryDb(p.db, 'SELECT count(*) FROM analytics.daily_sales')).toEqual([[1n]]);

    const runsBefore = await queryDb(p.db, 'SELECT count(*) FROM __orch__.pipeline_runs');
    for (const [key, message] of [
      ['2025-12-31', /2025-12-31 is before the first partition 2026-01-01/],
      ['2026-1-5', /`2026-1-5` is not a date \(expected YYYY-MM-DD\)/],
      ["x'); DROP TABLE raw.orders; --", /is not a date/],
      ['2099-01-01', /2099-01-01 does not exist yet: a daily partition exists once its period is over/],
    ] as const) {
      const bad = await runCli(['--db', p.db, 'run', '-s', 'daily_sales', '--partition', key, '--json']);
      expect(bad.code).toBe(1);
      const [e] = json<{ errors: ErrorJson[] }>(bad).errors;
      expect(e!.code).toBe('PARTITION');
      expect(e!.message).toMatch(message);
    }
    const none = await runCli(['--db', p.db, 'run', '-s', 'daily_sales']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/`daily_sales` is partitioned \(daily from 2026-01-01 \(UTC\)\): say which partition to build/);
    expect(none.stderr).toMatch(
      /hint: duck-orch run -s daily_sales --partition \d{4}-\d\d-\d\d, or several: duck-orch backfill analytics\.daily_sales --from … --to …/,
    );
    const unpartitioned = await runCli(['--db', p.db, 'run', '-s', 'raw_orders', '--partition', '2026-01-05']);
    expect(unpartitioned.code).toBe(1);
    expect(unpartitioned.stderr).toContain('--partition 2026-01-05: `raw_orders` is not partitioned');
    // Nothing was planned, and the source table is intact.
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.pipeline_runs')).toEqual(runsBefore);
    expect(await queryDb(p.db, 'SELECT count(*) FROM raw.orders')).toEqual([[930n]]);
  });

  it('a backfill of a range is one run with a job per partition, both bounds inclusive; --missing takes only what never succeeded', async () => {
    const p = await setUp();
    const r = await runCli([
      '--db',
      p.db,
      'backfill',
      'analytics.daily_sales',
      '--from',
      '2026-01-05',
      '--to',
      '2026-01-14',
      '-p',
      '4',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = json<BackfillJson>(r);
    expect(out.planned).toBe(10);
    expect(out.succeeded.map((s) => s.partition_key)).toEqual(
      Array.from({ length: 10 }, (_, i) => `2026-01-${String(5 + i).padStart(2, '0')}`),
    );
    expect(await queryDb(p.db, 'SELECT count(*), min(day)::VARCHAR, max(day)::VARCHAR, sum(n) FROM analytics.daily_sales')).toEqual([
      [10n, '2026-01-05', '2026-01-14', 300n],
    ]);
    expect(
      await queryDb(
        p.db,
        "SELECT count(DISTINCT run_id), count(*) FROM __orch__.asset_materializations WHERE asset_name = 'analytics.daily_sales'",
      ),
    ).toEqual([[1n, 10n]]);
    // Off a terminal, one log line per partition.
    expect(r.stderr).toMatch(/ finish daily_sales\[2026-01-14\] succeeded in /);

    const missing = await runCli(['--db', p.db, 'backfill', 'analytics.daily_sales', '--missing', '--to', '2026-01-20', '--json']);
    expect(missing.code, missing.stderr).toBe(0);
    expect(json<BackfillJson>(missing).succeeded.map((s) => s.partition_key)).toEqual([
      '2026-01-01',
      '2026-01-02',
      '2026-01-03',
      '2026-01-04',
      '2026-01-15',
      '2026-01-16',
      '2026-01-17',
      '2026-01-18',
      '2026-01-19',
      '2026-01-20',
    ]);
    const nothing = await runCli(['--db', p.db, 'backfill', 'analytics.daily_sales', '--missing', '--to', '2026-01-20', '--json']);
    expect(nothing.code).toBe(0);
    expect(json<BackfillJson>(nothing)).toMatchObject({
      run: null,
      planned: 0,
      warnings: [expect.stringContaining('nothing to backfill')],
    });

    const cal = json<{
      total: number;
      counts: Record<string, number>;
      ranges: Record<string, Array<{ from: string; to: string; count: number }>>;
    }>(await runCli(['--db', p.db, 'asset', 'partitions', 'analytics.daily_sales', '--json']));
    expect(cal.counts.succeeded).toBe(20);
    expect(cal.counts.missing).toBe(cal.total - 20);
    expect(cal.ranges.succeeded).toEqual([{ from: '2026-01-01', to: '2026-01-20', count: 20 }]);
    const text = await runCli(['--db', p.db, 'asset', 'partitions', 'analytics.daily_sales']);
    expect(text.stdout).toMatch(/^Status: 20 ✅ ok, 0 🟡 running, 0 ❌ failed, \d+ ⚪ missing \(\d+ partitions\)$/m);
    expect(text.stdout).toMatch(/⚪ missing: 2026-01-21 … /);
  });

  it('--where takes one dimension of a multi partition; $region, $date and $partition_key are bound', async () => {
    const p = await setUp();
    const r = await runCli([
      '--db',
      p.db,
      'backfill',
      'analytics.sales_by_region',
      '--from',
      '2026-01-01',
      '--to',
      '2026-01-03',
      '--where',
      'region=jp',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(json<BackfillJson>(r).succeeded.map((s) => s.partition_key)).toEqual(['2026-01-01|jp', '2026-01-02|jp', '2026-01-03|jp']);
    expect(await queryDb(p.db, 'SELECT day::VARCHAR, region, n, key FROM analytics.sales_by_region ORDER BY day')).toEqual([
      ['2026-01-01', 'jp', 10n, '2026-01-01|jp'],
      ['2026-01-02', 'jp', 10n, '2026-01-02|jp'],
      ['2026-01-03', 'jp', 10n, '2026-01-03|jp'],
    ]);
    const bad = await runCli(['--db', p.db, 'backfill', 'analytics.sales_by_region', '--all', '--where', 'region=cn']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--where region=cn: `cn` is not one of eu, jp, us');
  });

  it('a failed partition does not stop the others; the same backfill started again resumes its run, and only what failed runs', async () => {
    const p = await setUp();
    // Partition 2026-01-03 fails: a cast error on that day only.
    p.write(
      'tasks/daily_sales.sql',
      DAILY.replace('sum(amount)', "sum(amount) + CASE WHEN day = DATE '2026-01-03' THEN 'x'::INT ELSE 0 END"),
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const first = await runCli(['--db', p.db, 'backfill', 'daily_sales', '--from', '2026-01-01', '--to', '2026-01-05', '--json']);
    expect(first.code).toBe(1);
    const out = json<BackfillJson>(first);
    expect(out.run!.state).toBe('failed');
    expect(out.succeeded.map((s) => s.partition_key)).toEqual(['2026-01-01', '2026-01-02', '2026-01-04', '2026-01-05']);
    expect(out.failed).toEqual([
      expect.objectContaining({ partition_key: '2026-01-03', state: 'dead', error: expect.stringContaining('Could not convert string') }),
    ]);
    const text = await runCli(['--db', p.db, 'asset', 'partitions', 'analytics.daily_sales']);
    expect(text.stdout).toMatch(/❌ failed: 2026-01-03$/m);
    // `status` names each job's partition.
    expect((await runCli(['--db', p.db, 'status'])).stdout).toMatch(/ daily_sales\[2026-01-03\] +dead /);

    // Fixed, the same backfill again: the same run, and only the failed partition runs.
    p.write('tasks/daily_sales.sql', DAILY);
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const again = await runCli(['--db', p.db, 'backfill', 'daily_sales', '--from', '2026-01-01', '--to', '2026-01-05', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const resumed = json<BackfillJson>(again);
    expect(resumed).toMatchObject({ resumed: true, run: { run_id: out.run!.run_id, state: 'succeeded' } });
    expect(resumed.warnings).toEqual([`resuming backfill run ${out.run!.run_id.slice(0, 8)} (4 of 5 partitions done)`]);
    expect(again.stderr.match(/ start {2}/g)).toHaveLength(1);
    expect(again.stderr).toContain('start  daily_sales[2026-01-03]');
    expect(await queryDb(p.db, 'SELECT count(*) FROM analytics.daily_sales')).toEqual([[5n]]);
  });

  it('a plain run says which task it builds reads a partitioned task it left out', async () => {
    const p = tempProject();
    p.write('tasks/days.sql', '-- @partitions_by daily(start=2026-01-01)\nCREATE TABLE IF NOT EXISTS days AS SELECT 1 AS n;');
    p.write('tasks/summary.sql', 'CREATE OR REPLACE TABLE summary AS SELECT count(*) AS n FROM days;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const run = await runCli(['--db', p.db, 'run', '--json']);
    expect(json<{ warnings: string[] }>(run).warnings).toContainEqual(
      expect.stringMatching(/^summary reads a partitioned task left out \(days\): built on what its partitions hold so far/),
    );
  });

  it('bad requests: a range on a static partition, --from after --to, an unknown asset, no partitions named, an unpartitioned asset', async () => {
    const p = await setUp();
    p.write('tasks/regions.sql', '-- @partitions_by static(eu, us)\nCREATE OR REPLACE TABLE r AS SELECT $partition_key AS region;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const cases: Array<[string[], RegExp]> = [
      [
        ['backfill', 'regions', '--from', 'eu', '--to', 'us'],
        /a range \(--from\/--to\) needs a time partition; name partitions with --partition/,
      ],
      [['backfill', 'daily_sales', '--from', '2026-01-14', '--to', '2026-01-05'], /--from 2026-01-14 is after --to 2026-01-05/],
      [
        ['backfill', 'analytics.daily_salez', '--all'],
        /unknown asset `analytics\.daily_salez`[\s\S]*did you mean `analytics\.daily_sales`/,
      ],
      [['backfill', 'daily_sales'], /backfill: say which partitions \(expected --from\/--to/],
      [['backfill', 'raw.orders', '--all'], /`raw_orders` is not partitioned: there is nothing to backfill/],
      [['backfill', 'regions', '--partition', 'jp'], /--partition jp is not a partition of `regions`: `jp` is not one of eu, us/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['--db', p.db, ...args]);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(await queryDb(p.db, "SELECT count(*) FROM __orch__.pipeline_runs WHERE trigger = 'backfill'")).toEqual([[0n]]);
    const ok = await runCli(['--db', p.db, 'backfill', 'regions', '--partition', 'us', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await queryDb(p.db, 'SELECT region FROM r')).toEqual([['us']]);
  });

  it('asset list, show, materializations and health say what the ledger knows of each asset', async () => {
    const p = await setUp();
    expect((await runCli(['--db', p.db, 'backfill', 'analytics.daily_sales', '--from', '2026-01-01', '--to', '2026-01-03'])).code).toBe(0);
    const list = json<
      Array<{ name: string; group: string | null; task: string; partitions: { description: string } | null; freshness: { status: string } }>
    >(await runCli(['--db', p.db, 'asset', 'list', '--json']));
    expect(list.map((a) => [a.name, a.group, a.task, a.partitions?.description ?? null])).toEqual([
      ['analytics.daily_sales', 'sales', 'daily_sales', 'daily from 2026-01-01 (UTC)'],
      ['analytics.sales_by_region', null, 'sales_by_region', 'multi: date=daily from 2026-01-01 (UTC), region=static (3 values)'],
      ['raw.orders', null, 'raw_orders', null],
    ]);
    expect(list.map((a) => a.freshness.status)).toEqual(['ok', 'none', 'none']);
    expect(json<unknown[]>(await runCli(['--db', p.db, 'asset', 'list', '--group', 'sales', '--json']))).toHaveLength(1);
    const show = json<Record<string, unknown>>(await runCli(['--db', p.db, 'asset', 'show', 'analytics.daily_sales', '--json']));
    expect(show).toMatchObject({
      name: 'analytics.daily_sales',
      upstream: ['raw.orders'],
      freshness: { status: 'ok', max_lag_seconds: 3600 },
      last_materialization: { asset_name: 'analytics.daily_sales', status: 'succeeded', rows: 1 },
      partition_status: { counts: { succeeded: 3 } },
    });
    const mats = json<Array<{ partition_key: string; status: string; run_id: string; attempt: number; duration_ms: number }>>(
      await runCli(['--db', p.db, 'asset', 'materializations', 'analytics.daily_sales', '-n', '2', '--json']),
    );
    expect(mats).toHaveLength(2);
    expect(mats[0]).toMatchObject({ status: 'succeeded', attempt: 1 });
    const one = json<Array<{ partition_key: string }>>(
      await runCli(['--db', p.db, 'asset', 'materializations', 'analytics.daily_sales', '--partition', '2026-01-02', '--json']),
    );
    expect(one.map((m) => m.partition_key)).toEqual(['2026-01-02']);
    const health = json<Array<{ asset_name: string; freshness: { status: string }; succeeded_24h: number }>>(
      await runCli(['--db', p.db, 'asset', 'health', '--json']),
    );
    expect(health.map((h) => [h.asset_name, h.freshness.status, h.succeeded_24h])).toEqual([
      ['analytics.daily_sales', 'ok', 3],
      ['analytics.sales_by_region', 'none', 0],
      ['raw.orders', 'none', 1],
    ]);
    const unknown = await runCli(['--db', p.db, 'asset', 'show', 'raw.order']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown asset `raw\.order`[\s\S]*did you mean `raw\.orders`/);
    expect((await runCli(['--db', p.db, 'asset', 'partitions', 'raw.orders'])).stdout).toContain('Asset raw.orders is not partitioned');
  });
});

describe.skipIf(!postgresAvailable().ok)('a backfill on the PostgreSQL ledger', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('is one run worked by run’s worker and by a worker process; its materialisations are read back by asset commands', async () => {
    const { url, schema } = await freshSchema();
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const p = await setUp(env);
    const enq = await runCli(
      ['--db', p.db, 'backfill', 'analytics.daily_sales', '--from', '2026-01-01', '--to', '2026-01-06', '--enqueue', '--json'],
      { env },
    );
    expect(enq.code, enq.stderr).toBe(0);
    expect(json<BackfillJson>(enq)).toMatchObject({ planned: 6, run: { state: 'queued' } });
    const worker = await runCli(['--db', p.db, 'worker', '--once'], { env });
    expect(worker.code, worker.stderr).toBe(0);
    expect(await queryDb(p.db, 'SELECT count(*) FROM analytics.daily_sales')).toEqual([[6n]]);
    const cal = json<{ counts: Record<string, number> }>(
      await runCli(['--db', p.db, 'asset', 'partitions', 'analytics.daily_sales', '--json'], { env }),
    );
    expect(cal.counts.succeeded).toBe(6);
    const missing = await runCli(['--db', p.db, 'backfill', 'analytics.daily_sales', '--missing', '--to', '2026-01-08', '--json'], { env });
    expect(missing.code, missing.stderr).toBe(0);
    expect(json<BackfillJson>(missing).succeeded.map((s) => s.partition_key)).toEqual(['2026-01-07', '2026-01-08']);
    const mats = json<Array<{ status: string; run_id: string }>>(
      await runCli(['--db', p.db, 'asset', 'materializations', 'analytics.daily_sales', '--json'], { env }),
    );
    expect(mats).toHaveLength(8);
    expect(new Set(mats.map((m) => m.status))).toEqual(new Set(['succeeded']));
  });
});

describe('partitioned TypeScript tasks', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('an asset() and a Dag task with partitions get their key, dimensions and window in ctx', async () => {
    const p = tempProject();
    p.write(
      'tasks/scores.ts',
      `import { asset, Dag } from 'duckorch';
export const scores = asset({ name: 'analytics.scores', partitions: 'daily(start=2026-01-01)' }, async ({ connection, partitionKey, partitionWindow }) => {
  await connection.run('CREATE TABLE IF NOT EXISTS analytics.scores (k VARCHAR, s VARCHAR, e VARCHAR)');
  await connection.run('INSERT INTO analytics.scores VALUES ($1, $2, $3)', [partitionKey, partitionWindow.start.toISOString(), partitionWindow.end.toISOString()]);
});
export const dag = new Dag('regions');
dag.task({ name: 'per_region', partitions: 'multi(day=daily(start=2026-01-01), region=static(eu, us))' }, async (_inputs, ctx) => ({
  key: ctx.partitionKey,
  dims: ctx.partitionDimensions,
}));
`,
    );
    const reg = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(reg.code, reg.stderr).toBe(0);
    const a = await runCli(['--db', p.db, 'backfill', 'analytics.scores', '--from', '2026-01-02', '--to', '2026-01-03', '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(await queryDb(p.db, 'SELECT k, s, e FROM analytics.scores ORDER BY k')).toEqual([
      ['2026-01-02', '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
      ['2026-01-03', '2026-01-03T00:00:00.000Z', '2026-01-04T00:00:00.000Z'],
    ]);
    const d = await runCli(['--db', p.db, 'backfill', 'per_region', '--partition', '2026-01-05|us', '--json']);
    expect(d.code, d.stderr).toBe(0);
    const status = json<{ jobs: Array<{ task: string; partition_key: string; result: unknown }> }>(
      await runCli(['--db', p.db, 'status', '--json']),
    );
    expect(status.jobs.find((j) => j.task === 'per_region')).toMatchObject({
      partition_key: '2026-01-05|us',
      result: { key: '2026-01-05|us', dims: { day: '2026-01-05', region: 'us' } },
    });
    // A bad partitions option is an error of the module, at registration.
    p.write(
      'tasks/bad.ts',
      `import { asset } from 'duckorch';\nexport const bad = asset({ name: 'x.bad', partitions: 'daily(start=2026-13-01)' }, async () => {});\n`,
    );
    const bad = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/`partitions`: invalid date `2026-13-01`/);
  });
});

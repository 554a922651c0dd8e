/**
 * `@check`s: run inside each attempt before its commit (an `error` check that fails rolls the
 * data back and blocks downstream; a `warn` one is recorded only), kept per partition in
 * `__orch__.asset_check_results`, run on demand with `check run`, read with `check history`.
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

interface CheckJson {
  asset_name: string;
  partition_key: string;
  check_name: string;
  passed: boolean;
  severity: string;
  value: string | null;
  expected: string;
  error: string | null;
  run_id: string | null;
}

const source = (n: number) => `-- @asset analytics.orders
-- @check name=rows "SELECT count(*) FROM \${asset}" expect gt 0
-- @check name=positive severity=warn "SELECT min(amount) FROM \${asset}" expect ge 0
CREATE OR REPLACE TABLE analytics.orders AS SELECT range AS id, range - 1 AS amount FROM range(${n});
`;

describe('asset checks', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('an error check that fails rolls the attempt back and blocks downstream; a warn check is recorded only', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', source(5));
    p.write('tasks/report.sql', 'CREATE OR REPLACE TABLE analytics.report AS SELECT count(*) AS n FROM analytics.orders;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const ok = await runCli(['--db', p.db, 'run', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const first = json<CheckJson[]>(await runCli(['--db', p.db, 'check', 'history', 'analytics.orders', '--json']));
    expect(first.map((c) => [c.check_name, c.passed, c.severity, c.value])).toEqual(
      expect.arrayContaining([
        ['rows', true, 'error', '5'],
        ['positive', false, 'warn', '-1'],
      ]),
    );

    // No rows now: `rows` fails, the new (empty) table is rolled back, report is blocked.
    p.write('tasks/orders.sql', source(0));
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const bad = await runCli(['--db', p.db, 'run', '--json']);
    expect(bad.code).toBe(1);
    const jobs = json<{ jobs: Array<{ task: string; state: string; error: string; attempts: number }> }>(bad).jobs;
    expect(jobs.map((j) => [j.task, j.state])).toEqual([
      ['orders', 'dead'],
      ['report', 'blocked'],
    ]);
    expect(jobs[0]!.error).toBe("@check rows failed: expected gt 0, got 0; the task's changes were rolled back");
    // Not retried: a check that failed would fail again.
    expect(jobs[0]!.attempts).toBe(1);
    expect(await queryDb(p.db, 'SELECT count(*) FROM analytics.orders')).toEqual([[5n]]);
    const rows = await queryDb(
      p.db,
      "SELECT check_name, passed, value, run_id IS NOT NULL FROM __orch__.asset_check_results WHERE asset_name = 'analytics.orders' ORDER BY checked_at DESC, check_name LIMIT 2",
    );
    expect(rows).toEqual([
      ['positive', false, null, true],
      ['rows', false, '0', true],
    ]);
  });

  it('check run runs them against the current data, exits 1 when an error check fails, and is kept in the history', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', source(3));
    p.write(
      'tasks/daily.sql',
      `-- @asset analytics.daily
-- @partitions_by daily(start=2026-01-01)
-- @check name=one_day "SELECT count(DISTINCT day) FROM \${asset} WHERE day = $partition_key" expect eq 1
-- @check name=broken severity=warn "SELECT nosuch FROM \${asset}" expect eq 1
-- @param partition_key:DATE
CREATE TABLE IF NOT EXISTS analytics.daily (day DATE);
INSERT INTO analytics.daily VALUES ($partition_key);
`,
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(0);
    const missingAsset = await runCli(['--db', p.db, 'check', 'run', 'orderz']);
    expect(missingAsset.code).toBe(1);
    expect(missingAsset.stderr).toMatch(/unknown asset `orderz`/);

    // Without --partition: the latest partition materialised (none yet: said so).
    const none = await runCli(['--db', p.db, 'check', 'run', 'analytics.daily']);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no partition of `analytics\.daily` has been materialised yet/);

    // The broken check's query fails (a warning: the backfill succeeds); the partition's key is bound.
    const bf = await runCli(['--db', p.db, 'backfill', 'analytics.daily', '--partition', '2026-01-02', '--json']);
    expect(bf.code, bf.stdout).toBe(0);
    const latest = await runCli(['--db', p.db, 'check', 'run', 'analytics.daily']);
    expect(latest.stdout).toMatch(/^analytics\.daily, partition 2026-01-02:$/m);
    expect(latest.stdout).toMatch(/^one_day +pass +1 /m);
    const built = json<{ results: CheckJson[] }>(
      await runCli(['--db', p.db, 'check', 'run', 'analytics.daily', '--partition', '2026-01-02', '--json']),
    );
    expect(built.results.map((c) => [c.check_name, c.passed, c.value])).toEqual([
      ['one_day', true, '1'],
      ['broken', false, 'ERROR'],
    ]);
    // A partition not built: its error check fails, exit 1.
    const daily = await runCli(['--db', p.db, 'check', 'run', 'analytics.daily', '--partition', '2026-01-03', '--json']);
    expect(daily.code).toBe(1);
    expect(json(daily)).toMatchObject({ asset: 'analytics.daily', partition_key: '2026-01-03' });
    const results = json<{ results: CheckJson[] }>(daily).results;
    expect(results.map((c) => [c.check_name, c.passed, c.value])).toEqual([
      ['one_day', false, '0'],
      ['broken', false, 'ERROR'],
    ]);
    expect(results[1]!.error).toMatch(/tasks\/daily\.sql:4: the check's query failed: .*nosuch/);
    const text = await runCli(['--db', p.db, 'check', 'run', 'analytics.orders']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^rows +pass +3 +gt 0 +error/m);
    expect(text.stdout).toMatch(/^positive +warn +-1 +ge 0 +warn +expected ge 0, got -1/m);
    const history = json<CheckJson[]>(await runCli(['--db', p.db, 'check', 'history', 'analytics.orders', '-n', '2', '--json']));
    expect(history).toHaveLength(2);
    expect(history.every((c) => c.run_id === null)).toBe(true);
  });

  it('reads DECIMAL, DATE and TIMESTAMP values as DuckDB prints them: compared, recorded and shown so', async () => {
    const p = tempProject();
    const prices = (sumExpect: string) => `-- @asset s.prices
-- @check name=sum_dec "SELECT sum(price) FROM \${asset}" expect ${sumExpect}
-- @check name=max_day "SELECT max(day) FROM \${asset}" expect eq 2026-11-03
-- @check name=ts "SELECT max(day)::TIMESTAMP FROM \${asset}" expect_not_null
CREATE OR REPLACE TABLE s.prices AS
SELECT * FROM (VALUES (1, 9.99::DECIMAL(10,2), DATE '2026-11-01'), (3, 1.01, DATE '2026-11-03')) t(qty, price, day);
`;
    p.write('tasks/prices.sql', prices('gt 0'));
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const ok = await runCli(['--db', p.db, 'run', '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(await queryDb(p.db, 'SELECT check_name, passed, value FROM __orch__.asset_check_results ORDER BY check_name')).toEqual([
      ['max_day', true, '2026-11-03'],
      ['sum_dec', true, '11.00'],
      ['ts', true, '2026-11-03 00:00:00'],
    ]);
    const text = await runCli(['--db', p.db, 'check', 'run', 's.prices']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^sum_dec +pass +11\.00 +gt 0 /m);
    expect(text.stdout).toMatch(/^max_day +pass +2026-11-03 +eq 2026-11-03 /m);
    expect(text.stdout).toMatch(/^ts +pass +2026-11-03 00:00:00 +not_null /m);
    const history = json<CheckJson[]>(await runCli(['--db', p.db, 'check', 'history', 's.prices', '--json']));
    expect(history.filter((c) => c.run_id === null).map((c) => [c.check_name, c.value])).toEqual(
      expect.arrayContaining([
        ['sum_dec', '11.00'],
        ['max_day', '2026-11-03'],
        ['ts', '2026-11-03 00:00:00'],
      ]),
    );

    // 11.00 is not above 100: the check fails the attempt.
    p.write('tasks/prices.sql', prices('gt 100'));
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const bad = await runCli(['--db', p.db, 'run', '--json']);
    expect(bad.code).toBe(1);
    const jobs = json<{ jobs: Array<{ state: string; error: string }> }>(bad).jobs;
    expect(jobs.map((j) => [j.state, j.error])).toEqual([
      ['dead', "@check sum_dec failed: expected gt 100, got 11.00; the task's changes were rolled back"],
    ]);
  });
});

/**
 * `plan` says what is stale and why without running anything; `run --stale` builds exactly
 * that; `asset list --stale` filters to it.
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

interface Planned {
  asset: string;
  task: string;
  reasons: Array<{ kind: string; upstream?: string }>;
  partitions: { stale: number; total: number; keys: string[] } | null;
  downstream: string[];
}

describe('plan and run --stale', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('lists the stale assets with their reasons and what rebuilds downstream; run --stale builds exactly them', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', 'CREATE OR REPLACE TABLE raw.orders AS SELECT 1 AS id;');
    p.write('tasks/report.sql', 'CREATE OR REPLACE TABLE marts.report AS SELECT count(*) AS n FROM raw.orders;');
    p.write('tasks/other.sql', 'CREATE OR REPLACE TABLE marts.other AS SELECT 1 AS x;');
    p.write(
      'tasks/daily.sql',
      `-- @partitions_by daily(start=2026-01-01, end=2026-01-03)
CREATE TABLE IF NOT EXISTS marts.daily AS SELECT * FROM raw.orders LIMIT 0;
INSERT INTO marts.daily SELECT * FROM raw.orders;
`,
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const fresh = json<Planned[]>(await runCli(['--db', p.db, 'plan', '--json']));
    expect(fresh.map((a) => [a.asset, a.reasons.map((r) => r.kind)])).toEqual([
      ['raw.orders', ['never_materialized']],
      ['marts.other', ['never_materialized']],
      ['marts.daily', ['never_materialized', 'upstream_stale']],
      ['marts.report', ['never_materialized', 'upstream_stale']],
    ]);
    expect(fresh.find((a) => a.asset === 'raw.orders')!.downstream).toEqual(['marts.daily', 'marts.report']);
    // Nothing ran.
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.pipeline_runs')).toEqual([[0n]]);

    const all = await runCli(['--db', p.db, 'run', '--stale', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(
      json<{ jobs: Array<{ task: string; partition_key: string }> }>(all)
        .jobs.map((j) => `${j.task}:${j.partition_key}`)
        .sort(),
    ).toEqual([
      'daily:2026-01-01',
      'daily:2026-01-02',
      'daily:2026-01-03',
      'orders:__default__',
      'other:__default__',
      'report:__default__',
    ]);
    expect(json<Planned[]>(await runCli(['--db', p.db, 'plan', '--json']))).toEqual([]);
    expect((await runCli(['--db', p.db, 'plan'])).stdout).toContain('Nothing is stale: every asset is up to date.');

    // Edit orders: it is stale (code changed) and rebuilds daily and report; other is not touched.
    p.write('tasks/orders.sql', 'CREATE OR REPLACE TABLE raw.orders AS SELECT 2 AS id;');
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const edited = json<Planned[]>(await runCli(['--db', p.db, 'plan', '--json']));
    expect(edited.map((a) => [a.asset, a.reasons.map((r) => r.kind), a.partitions?.stale ?? null])).toEqual([
      ['raw.orders', ['code_changed'], null],
      ['marts.daily', ['upstream_stale'], 3],
      ['marts.report', ['upstream_stale'], null],
    ]);
    const text = await runCli(['--db', p.db, 'plan']);
    expect(text.stdout).toMatch(/^3 stale assets:$/m);
    expect(text.stdout).toMatch(/raw\.orders \(task orders\): its code changed since its last success/);
    expect(text.stdout).toMatch(/rebuilds downstream: marts\.daily, marts\.report/);
    expect(json<Array<{ name: string }>>(await runCli(['--db', p.db, 'asset', 'list', '--stale', '--json'])).map((a) => a.name)).toEqual([
      'marts.daily',
      'marts.report',
      'raw.orders',
    ]);
    // A selection narrows the plan to its tasks' assets.
    expect(json<Planned[]>(await runCli(['--db', p.db, 'plan', '-s', 'report', '--json'])).map((a) => a.asset)).toEqual(['marts.report']);

    const only = await runCli(['--db', p.db, 'run', '--stale', '-s', 'orders', 'report', '--json']);
    expect(only.code, only.stderr).toBe(0);
    expect(json<{ jobs: Array<{ task: string }> }>(only).jobs.map((j) => j.task)).toEqual(['orders', 'report']);
    // Run after orders, report is fresh; daily still is not (orders materialised after it).
    const after = json<Planned[]>(await runCli(['--db', p.db, 'plan', '--json']));
    expect(after.map((a) => [a.asset, a.reasons.map((r) => r.kind)])).toEqual([['marts.daily', ['upstream_newer']]]);
    expect(await queryDb(p.db, 'SELECT n FROM marts.report')).toEqual([[1n]]);

    // Queued already (a backfill for workers): run --stale does not plan it a second time.
    const queued = await runCli(['--db', p.db, 'backfill', 'marts.daily', '--partition', '2026-01-02', '--enqueue']);
    expect(queued.code, queued.stderr).toBe(0);
    const rest = await runCli(['--db', p.db, 'run', '--stale', '--json']);
    expect(rest.code, rest.stderr).toBe(0);
    const restJson = json<{ jobs: Array<{ task: string; partition_key: string }>; warnings: string[] }>(rest);
    expect(restJson.jobs.map((j) => j.partition_key).sort()).toEqual(['2026-01-01', '2026-01-03']);
    expect(restJson.warnings).toContain('left out 1 stale job already queued or running');
  });
});

/**
 * `automation simulate`: an asset's condition evaluated against what the ledger says (or a
 * state file), with the reason, and nothing run.
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

interface Simulated {
  asset: string;
  condition: string;
  met: boolean;
  reason: { label: string; detail: string; children?: Array<{ label: string; detail: string }> };
  state: { last_success_at: string | null; partitions: { total: number; missing: number } | null };
}

describe('automation simulate', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('evaluates a condition against the ledger as it changes, and runs nothing', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', 'CREATE OR REPLACE TABLE raw.orders AS SELECT 1 AS id;');
    p.write(
      'tasks/total.sql',
      `-- @asset analytics.region_total
-- @automation eager() AND NOT in_progress()
CREATE OR REPLACE TABLE analytics.region_total AS SELECT count(*) AS n FROM raw.orders;
`,
    );
    p.write(
      'tasks/days.sql',
      `-- @partitions_by daily(start=2026-01-01, end=2026-01-10)
-- @automation on_missing()
CREATE TABLE IF NOT EXISTS days (k VARCHAR);
INSERT INTO days VALUES ($partition_key);
`,
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const simulate = async (asset: string) => {
      const r = await runCli(['--db', p.db, 'automation', 'simulate', asset, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return json<Simulated>(r);
    };

    const fresh = await simulate('analytics.region_total');
    expect(fresh).toMatchObject({ asset: 'analytics.region_total', condition: 'eager() AND NOT in_progress()', met: true });
    expect(fresh.reason.children![0]).toMatchObject({ label: 'eager()', detail: 'never materialised' });

    expect((await runCli(['--db', p.db, 'run'])).code).toBe(0);
    const built = await simulate('analytics.region_total');
    expect(built.met).toBe(false);
    expect(built.reason.children![0]!.detail).toMatch(/^no upstream asset materialised since this asset's /);

    // The upstream alone again: the asset is behind it.
    expect((await runCli(['--db', p.db, 'run', '-s', 'orders'])).code).toBe(0);
    const behind = await simulate('analytics.region_total');
    expect(behind.met).toBe(true);
    expect(behind.reason.children![0]!.detail).toMatch(/^upstream raw\.orders materialised .*, after this asset's /);

    // Partitioned: some partitions missing.
    expect((await runCli(['--db', p.db, 'backfill', 'days', '--from', '2026-01-01', '--to', '2026-01-03'])).code).toBe(0);
    const days = await simulate('days');
    expect(days).toMatchObject({
      met: true,
      reason: { detail: '7 of 10 partitions missing' },
      state: { partitions: { total: 10, missing: 7 } },
    });

    // Every asset with a condition at once: the same verdicts.
    const status = await runCli(['--db', p.db, 'automation', 'status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(json<Array<{ asset: string; met: boolean }>>(status).map((r) => [r.asset, r.met])).toEqual([
      ['analytics.region_total', true],
      ['days', true],
    ]);
    const table = await runCli(['--db', p.db, 'automation', 'status']);
    expect(table.stdout).toMatch(
      /^analytics\.region_total +eager\(\) AND NOT in_progress\(\) +met +NOT in_progress\(\) no job pending or running$/m,
    );
    expect(table.stdout).toMatch(/^days +on_missing\(\) +met +on_missing\(\) 7 of 10 partitions missing$/m);

    const text = await runCli(['--db', p.db, 'automation', 'simulate', 'days']);
    expect(text.stdout).toMatch(/^days {2}on_missing\(\) {2}met at /m);
    // Nothing was enqueued by simulating: only the runs made above.
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.pipeline_runs')).toEqual([[3n]]);
  });

  it('evaluates against a state file instead, at a given instant; bad input is refused', async () => {
    const p = tempProject();
    p.write('tasks/orders.sql', 'CREATE OR REPLACE TABLE raw.orders AS SELECT 1 AS id;');
    p.write(
      'tasks/total.sql',
      `-- @asset analytics.region_total
-- @automation on_cron("0 6 * * *") AND NOT in_progress()
CREATE OR REPLACE TABLE analytics.region_total AS SELECT count(*) AS n FROM raw.orders;
`,
    );
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const state = p.write(
      'state.json',
      JSON.stringify({ last_success_at: '2026-12-07T06:05:00Z', upstream: [{ asset: 'raw.orders', last_success_at: null }] }),
    );
    const before = await runCli([
      '--db',
      p.db,
      'automation',
      'simulate',
      'analytics.region_total',
      '--state',
      state,
      '--at',
      '2026-12-08T05:59Z',
      '--json',
    ]);
    expect(json<Simulated>(before).met).toBe(false);
    const after = await runCli([
      '--db',
      p.db,
      'automation',
      'simulate',
      'analytics.region_total',
      '--state',
      state,
      '--at',
      '2026-12-08T06:00Z',
      '--json',
    ]);
    expect(json<Simulated>(after)).toMatchObject({ met: true });
    expect(json<Simulated>(after).reason.children![0]!.detail).toBe(
      'tick 2026-12-08T06:00:00Z since the last success 2026-12-07T06:05:00Z',
    );

    const badFile = p.write('bad.json', JSON.stringify({ upstream: [], in_progress: -1 }));
    const bad = await runCli(['--db', p.db, 'automation', 'simulate', 'analytics.region_total', '--state', badFile]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--state .*bad\.json: in_progress: /);
    const badAt = await runCli(['--db', p.db, 'automation', 'simulate', 'analytics.region_total', '--at', 'tomorrow']);
    expect(badAt.code).not.toBe(0);
    expect(badAt.stderr).toMatch(/--at tomorrow: not an instant/);
    const none = await runCli(['--db', p.db, 'automation', 'simulate', 'raw.orders']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toMatch(/`raw\.orders` has no @automation condition/);
  });
});

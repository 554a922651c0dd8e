/**
 * Interval tasks end to end: a run processes each run of unprocessed intervals as one batch,
 * `${interval_*}` bound as typed parameters; processed intervals are kept beside the data; a run
 * with nothing due runs nothing; `restate` forgets a range and processes it again.
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

// The interval starts four days before today: the run has four complete days to process.
const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
const day = (n: number) => new Date(today + n * 86_400_000).toISOString().slice(0, 10);

const TASK = `-- @automation on_interval("daily")
-- @interval_start ${day(-4)}
CREATE TABLE IF NOT EXISTS ev (s TIMESTAMP, e TIMESTAMP, s_ts BIGINT, span INTERVAL);
INSERT INTO ev SELECT \${interval_start}, \${interval_end}, \${interval_start_ts}, \${interval_end} - \${interval_start};
`;

describe('interval tasks', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it('process their gaps once as one batch, bound as parameters; restate forgets a range and fills it again', async () => {
    const p = tempProject();
    p.write('tasks/ev.sql', TASK);
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const first = await runCli(['--db', p.db, 'run', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const jobs = json<{ jobs: Array<{ partition_key: string }> }>(first).jobs;
    expect(jobs.map((j) => j.partition_key)).toEqual([`${day(-4)}T00:00:00.000Z/${day(0)}T00:00:00.000Z`]);
    expect(await queryDb(p.db, 'SELECT s::VARCHAR, e::VARCHAR, s_ts, span::VARCHAR FROM ev')).toEqual([
      [`${day(-4)} 00:00:00`, `${day(0)} 00:00:00`, BigInt((today - 4 * 86_400_000) / 1000), '4 days'],
    ]);
    expect(await queryDb(p.db, "SELECT count(*) FROM __orch__.asset_intervals WHERE asset_name = 'ev'")).toEqual([[1n]]);

    // Nothing is due: nothing runs, and nothing is recorded.
    const again = await runCli(['--db', p.db, 'run', '--json']);
    expect(again.code).toBe(0);
    expect(json<{ run: unknown; warnings: string[] }>(again)).toMatchObject({
      run: null,
      warnings: ['ev: every interval due is processed; nothing to run'],
    });

    // Restating the middle two days forgets them and processes exactly them.
    const restate = await runCli(['--db', p.db, 'restate', 'ev', '--from', day(-3), '--to', day(-2), '--json']);
    expect(restate.code, restate.stderr).toBe(0);
    expect(restate.stdout).toContain(`${day(-3)}T00:00:00.000Z/${day(-1)}T00:00:00.000Z`);
    expect(await queryDb(p.db, 'SELECT s::VARCHAR, e::VARCHAR FROM ev ORDER BY s, e')).toEqual([
      [`${day(-4)} 00:00:00`, `${day(0)} 00:00:00`],
      [`${day(-3)} 00:00:00`, `${day(-1)} 00:00:00`],
    ]);
    // The kept record covers the four days once more, and nothing is due.
    const ranges = await queryDb(p.db, "SELECT start_ts, end_ts FROM __orch__.asset_intervals WHERE asset_name = 'ev' ORDER BY 1, 2");
    const covered = new Set<number>();
    for (const [s, e] of ranges) for (let t = Number(s); t < Number(e); t += 86_400) covered.add(t);
    expect(covered.size).toBe(4);
    expect(json<{ run: unknown }>(await runCli(['--db', p.db, 'run', '--json'])).run).toBeNull();
    const backfill = await runCli(['--db', p.db, 'backfill', 'ev', '--all']);
    expect(backfill.code).toBe(1);
    expect(backfill.stderr).toContain('`ev` processes intervals, not partitions: `run` processes what is due');
  });

  it('a failed batch records nothing, so the next run takes it again; ${interval_*} outside an interval task is an error at its place', async () => {
    const p = tempProject();
    p.write('tasks/ev.sql', TASK.replace(/;\n$/, " WHERE error('late data') IS NULL;\n"));
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    expect((await runCli(['--db', p.db, 'run'])).code).toBe(1);
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.asset_intervals')).toEqual([[0n]]);
    p.write('tasks/ev.sql', TASK);
    expect((await runCli(['--db', p.db, 'register', p.tasks])).code).toBe(0);
    const fixed = await runCli(['--db', p.db, 'run', '--json']);
    expect(json<{ jobs: Array<{ partition_key: string; state: string }> }>(fixed).jobs).toMatchObject([
      { partition_key: `${day(-4)}T00:00:00.000Z/${day(0)}T00:00:00.000Z`, state: 'succeeded' },
    ]);

    p.write('tasks/plain.sql', 'CREATE TABLE plain AS SELECT ${interval_start} AS s;');
    const bad = await runCli(['--db', p.db, 'register', p.tasks]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/tasks\/plain\.sql:1:\d+: error: `\$\{interval_start\}` is bound only in an interval task/);
  });
});

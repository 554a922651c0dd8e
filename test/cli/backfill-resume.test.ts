/**
 * A backfill interrupted — Ctrl-C, or the process killed — and started again resumes its run and
 * does only what is not yet materialised: every partition's rows land exactly once. The task
 * appends (no DELETE), so a partition done twice would show.
 */
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, startCli, tempProject, waitFor } from '../helpers.js';
import { freshSchema, postgresAvailable } from '../pg.js';

const PARTITIONS = 24;
const TASK = `-- @partitions_by daily(start=2026-01-01)
-- @param partition_key:DATE
CREATE TABLE IF NOT EXISTS hits (day DATE, n BIGINT);
INSERT INTO hits SELECT $partition_key, (SELECT count(*) FROM range(4000000) t(i) WHERE i % 7 = 3);
`;

/** A seeded, replayable choice of how many partitions finish before the interruption. */
function killAfter(seed: number): number {
  const x = Math.sin(seed * 9301 + 49297) * 233280;
  return 2 + Math.floor((x - Math.floor(x)) * (PARTITIONS - 6));
}

async function interruptAndResume(signal: 'SIGKILL' | 'SIGINT', seed: number, env: Record<string, string> = {}): Promise<void> {
  const p = tempProject();
  p.write('tasks/hits.sql', TASK);
  expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
  const args = [
    '--db',
    p.db,
    'backfill',
    'hits',
    '--from',
    '2026-01-01',
    '--to',
    `2026-01-${String(PARTITIONS).padStart(2, '0')}`,
    '-p',
    '2',
  ];
  const first = startCli(args, { env });
  const after = killAfter(seed);
  // Readiness: the `after`-th partition has finished (a log line per partition off a terminal).
  const finishedSoFar = () => (first.stderr.match(/ finish hits\[/g) ?? []).length;
  await waitFor(`${after} partitions finished`, () => finishedSoFar() >= after);
  const finished = finishedSoFar();
  first.child.kill(signal);
  const ended = await first.exited;
  if (signal === 'SIGKILL') expect(ended.signal).toBe('SIGKILL');
  else expect(ended.code).toBe(130);
  expect(finished).toBeGreaterThanOrEqual(after);

  // On a shared ledger the killed process's lease on the database runs out first (a short one here).
  let again = await runCli([...args, '--json'], { env });
  while (again.code !== 0 && /is held by/.test(again.stdout + again.stderr)) again = await runCli([...args, '--json'], { env });
  expect(again.code, again.stdout + again.stderr).toBe(0);
  const out = json<{ resumed: boolean; run: { state: string }; warnings: string[] }>(again);
  expect(out.resumed).toBe(true);
  expect(out.run.state).toBe('succeeded');
  // Only what was not done ran again.
  const ranAgain = (again.stderr.match(/ finish hits\[/g) ?? []).length;
  expect(ranAgain).toBeLessThanOrEqual(PARTITIONS - finished + 2);
  const rows = await queryDb(p.db, 'SELECT day::VARCHAR, count(*) FROM hits GROUP BY day ORDER BY day');
  expect(rows).toHaveLength(PARTITIONS);
  expect(
    rows.filter(([, n]) => n !== 1n),
    `seed ${seed}: partitions done twice`,
  ).toEqual([]);
}

describe('a backfill interrupted and started again', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  it.each([1, 2])('after SIGKILL resumes its run and builds each partition once (seed %i)', async (seed) => {
    await interruptAndResume('SIGKILL', seed);
  });

  it('with its jobs kept in memory a page at a time, after SIGKILL resumes and builds each partition once', async () => {
    // 24 partitions, pages of 10: the run is read back in pages, before and after the kill.
    await interruptAndResume('SIGKILL', 5, { DUCKORCH_QUEUE_PAGE: '10' });
  });

  it('after Ctrl-C (SIGINT: exit 130, the run cancelled) resumes its run and builds each partition once', async () => {
    await interruptAndResume('SIGINT', 3);
  });

  it.skipIf(!postgresAvailable().ok)('on the PostgreSQL ledger, after SIGKILL, resumes and builds each partition once', async () => {
    const { url, schema } = await freshSchema();
    await interruptAndResume('SIGKILL', 4, { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '2s' });
  });
});

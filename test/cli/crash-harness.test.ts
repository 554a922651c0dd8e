/**
 * Crash safety, proven with real processes: workers on one PostgreSQL ledger (each with a
 * DuckDB file of its own, as on separate machines) work a run of 500 jobs while the test kills
 * one of them with SIGKILL at moments drawn from a seeded generator and starts it again. Every
 * job must end succeeded exactly once in the ledger, and the jobs of killed workers must have
 * been taken back when their leases ran out.
 */
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, runCli, startCli, tempProject, type CliProcess } from '../helpers.js';

const JOBS = 500;
const WORKERS = 3;

/** A small LCG: the same "random" kill moments on every run. */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe.skipIf(!postgresAvailable().ok)('crash safety on PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it(`${JOBS} jobs, ${WORKERS} workers, SIGKILLed and restarted: every job succeeds exactly once`, async () => {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    // Jobs that take a little while, so that kills land in the middle of some.
    p.write(
      'dag/work.ts',
      `import { Dag } from 'duckorch';
export const dag = new Dag('work');
for (let i = 0; i < ${JOBS}; i++)
  dag.task({ name: 'job_' + String(i).padStart(3, '0') }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 20 + (i % 7) * 7));
    return { i };
  });
`,
    );
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '2s' };
    const dag = ['--dag', 'dag/work.ts:dag'];
    // Workers never create the ledger's tables: init-db does, once.
    expect((await runCli(['init-db'], { cwd: p.dir, env })).code).toBe(0);
    const enqueued = await runCli(['--db', path.join(p.dir, 'enqueue.duckdb'), ...dag, 'enqueue'], { cwd: p.dir, env });
    expect(enqueued.code, enqueued.stderr).toBe(0);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const count = async (sql: string) => Number((await client.query(sql)).rows[0].n);
    const succeeded = () => count(`SELECT count(*) AS n FROM "${schema}".jobs WHERE state = 'succeeded'`);
    try {
      const start = async (i: number): Promise<CliProcess> => {
        const w = startCli(
          ['--db', path.join(p.dir, `worker-${i}.duckdb`), ...dag, 'worker', '-c', '4', '--worker-id', `w${i}-${Date.now()}`],
          {
            cwd: p.dir,
            env,
          },
        );
        await w.waitForStderr(/^worker \d+ started/);
        return w;
      };
      const workers: CliProcess[] = [];
      for (let i = 0; i < WORKERS; i++) workers.push(await start(i));

      // Polls the ledger (what the test waits for is a state row, not a time).
      const until = async (what: string, condition: () => Promise<boolean>) => {
        const deadline = Date.now() + 150_000;
        while (!(await condition())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      };
      const random = lcg(42);
      let kills = 0;
      // Kill points by progress, so that the kills land while work remains; the victim is drawn.
      for (const target of [40, 100, 160, 230, 300]) {
        await until(`${target} jobs succeeded`, async () => (await succeeded()) >= target);
        if ((await succeeded()) >= JOBS) break;
        const victim = Math.floor(random() * WORKERS);
        workers[victim]!.child.kill('SIGKILL');
        await workers[victim]!.exited;
        kills++;
        workers[victim] = await start(victim);
      }
      await until(`all ${JOBS} jobs succeeded`, async () => (await succeeded()) === JOBS);
      for (const w of workers) w.child.kill('SIGTERM');
      for (const w of workers) expect((await w.exited).code).toBe(0);

      expect(kills).toBeGreaterThanOrEqual(4);
      expect(await succeeded()).toBe(JOBS);
      // Exactly once: one succeeded attempt per job, no job left in flight.
      expect(await count(`SELECT count(*) AS n FROM "${schema}".attempts WHERE outcome = 'succeeded'`)).toBe(JOBS);
      expect(await count(`SELECT count(DISTINCT job_id) AS n FROM "${schema}".attempts WHERE outcome = 'succeeded'`)).toBe(JOBS);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".jobs WHERE state <> 'succeeded'`)).toBe(0);
      // Killed workers' jobs were taken back as lost attempts, keeping their start.
      const lost = await client.query(`SELECT started_at, finished_at FROM "${schema}".attempts WHERE outcome = 'lost'`);
      expect(lost.rows.length).toBeGreaterThan(0);
      for (const r of lost.rows as Array<{ started_at: Date; finished_at: Date }>)
        expect(r.started_at.getTime()).toBeLessThanOrEqual(r.finished_at.getTime());
    } finally {
      await client.end();
    }
  });
});

/**
 * Crash safety, proven with real processes: workers on one PostgreSQL ledger (each with a
 * DuckDB file of its own, as on separate machines) work a run of 500 jobs while the test kills
 * them with SIGKILL at moments drawn from a seeded generator, and starts them again. A moment is
 * a point of progress in the ledger followed by one of: the victim in the middle of a job (just
 * after it printed `start`), just after a completion (`finish`), just after it started up, or two
 * workers at once. Every job must end succeeded exactly once in the ledger, and every job a killed
 * worker held must have come back through its expired lease (a `lost` attempt) and succeeded.
 *
 * The seed is random per run; a failure names it, with the kills made and the workers' last
 * lines. Run again with DUCKORCH_CRASH_SEED=<seed> to replay the same draws (the processes' own
 * timing still varies).
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, runCli, slowJobsDag, startCli, tempProject, type CliProcess } from '../helpers.js';

const JOBS = 500;
const WORKERS = 3;
const KILLS = 7;
const SEED = process.env.DUCKORCH_CRASH_SEED ? Number(process.env.DUCKORCH_CRASH_SEED) : randomInt(2 ** 31);

/** A small LCG: the same draws for the same seed. */
function lcg(seed: number): () => number {
  let x = seed % 2 ** 31;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

type Moment = 'mid-job' | 'after-finish' | 'at-start' | 'two-at-once';
const MOMENTS: readonly Moment[] = ['mid-job', 'after-finish', 'at-start', 'two-at-once'];

describe.skipIf(!postgresAvailable().ok)('crash safety on PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT + 120_000 }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it(`${JOBS} jobs, ${WORKERS} workers SIGKILLed at random moments and restarted: every job succeeds exactly once`, async () => {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    // Jobs that take a little while, so that kills land in the middle of some.
    p.write('dag/work.ts', slowJobsDag(JOBS, 80, 7, 25));
    // A short lease, so that killed workers' jobs come back quickly; a small pool per worker (the
    // shared server allows 100 connections, and test files run two at a time).
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '2s', DB_POOL_MAX: '4' };
    const dag = ['--dag', 'dag/work.ts:dag'];
    // Workers never create the ledger's tables: init-db does, once.
    expect((await runCli(['init-db'], { cwd: p.dir, env })).code).toBe(0);
    const enqueued = await runCli(['--db', path.join(p.dir, 'enqueue.duckdb'), ...dag, 'enqueue'], { cwd: p.dir, env });
    expect(enqueued.code, enqueued.stderr).toBe(0);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const count = async (sql: string, params: unknown[] = []) => Number((await client.query(sql, params)).rows[0].n);
    const succeeded = () => count(`SELECT count(*) AS n FROM "${schema}".jobs WHERE state = 'succeeded'`);
    const random = lcg(SEED);
    const draw = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const log: string[] = [];
    type Worker = { id: string; process: CliProcess; ready: Promise<unknown>; up: boolean };
    const workers: Worker[] = [];
    /** Every worker process started, for the report of a failure. */
    const all: Worker[] = [];
    try {
      let generation = 0;
      // A restart is not waited for (as under a supervisor): the others work on meanwhile, and the
      // kill loop goes on to its next moment.
      const start = (i: number): void => {
        const id = `w${i}.${++generation}`;
        const w = startCli(['--db', path.join(p.dir, `worker-${i}.duckdb`), ...dag, 'worker', '-c', '4', '--worker-id', id], {
          cwd: p.dir,
          env: { ...env, PGAPPNAME: `duck-orch ${id}` },
        });
        const worker: Worker = { id, process: w, ready: w.waitForStderr(/^worker \d+ started/), up: false };
        worker.ready = worker.ready.then(() => (worker.up = true));
        workers[i] = worker;
        all.push(worker);
      };
      for (let i = 0; i < WORKERS; i++) start(i);
      for (const w of workers) await w.ready;

      // Polls the ledger or a worker's output (what the test waits for is a state row or a line, not a time).
      const until = async (what: string, condition: () => boolean | Promise<boolean>) => {
        const deadline = Date.now() + 150_000;
        while (!(await condition())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      const done = async () => (await succeeded()) >= JOBS;
      /** Waits for the victim's next line matching `pattern`; false when the run finished first. */
      const nextLine = async (i: number, pattern: RegExp): Promise<boolean> => {
        await workers[i]!.ready;
        const w = workers[i]!.process;
        const from = w.stderr.length;
        let seen = false;
        await until(`worker ${i} to print ${pattern}`, async () => (seen = pattern.test(w.stderr.slice(from))) || (await done()));
        return seen;
      };
      /** What each killed worker held when it died: job id → its worker id. */
      const held = new Map<string, string>();
      const kill = async (victims: number[]) => {
        for (const i of victims) await workers[i]!.ready;
        for (const i of victims) workers[i]!.process.child.kill('SIGKILL');
        for (const i of victims) {
          const { id, process } = workers[i]!;
          const result = await process.exited;
          expect(result.signal).toBe('SIGKILL');
          // A statement the worker sent before it died still runs (and commits) in its server
          // process, which ends when it finds the client gone: what the worker held is read after.
          await until(
            `${id}'s server processes to end`,
            async () => (await count(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [`duck-orch ${id}`])) === 0,
          );
          for (const r of (await client.query(`SELECT job_id FROM "${schema}".jobs WHERE state = 'processing' AND lease_owner = $1`, [id]))
            .rows as Array<{ job_id: string }>)
            held.set(r.job_id, id);
        }
        for (const i of victims) start(i);
      };

      // A progress point in each of KILLS equal stretches of the run (so that restarts, which take a
      // while, do not swallow kills drawn close together), then a kind of moment and a victim for each.
      const targets = Array.from({ length: KILLS }, (_, k) => Math.floor((0.03 + (0.85 * (k + random())) / KILLS) * JOBS));
      let kills = 0;
      for (const [k, target] of targets.entries()) {
        await until(`${target} jobs succeeded`, async () => (await succeeded()) >= target);
        if (await done()) break;
        // The first kill is always mid-job, so that there is a lease to expire whatever the draws.
        const moment = k === 0 ? 'mid-job' : draw(MOMENTS);
        // Victims among the workers that are up (a restart may still be loading), so that a slow
        // start-up does not hold the kills back while the others finish the run.
        if (!workers.some((w) => w.up)) await Promise.race(workers.map((w) => w.ready));
        const up = workers.flatMap((w, i) => (w.up ? [i] : []));
        const victim = draw(up);
        log.push(`${new Date().toISOString()} kill ${k + 1} at ${target}+ succeeded: ${moment}, worker ${victim}`);
        if (moment === 'mid-job' && !(await nextLine(victim, /Z start +job_\d+/))) break;
        if (moment === 'after-finish' && !(await nextLine(victim, /Z finish +job_\d+ +succeeded/))) break;
        if (moment === 'at-start') {
          // Killed, and killed again right after it starts up: before or while it claims.
          await kill([victim]);
          kills++;
        }
        const second = up.filter((i) => i !== victim);
        await kill(moment === 'two-at-once' && second.length > 0 ? [victim, draw(second)] : [victim]);
        kills++;
      }
      await until(`all ${JOBS} jobs succeeded`, done);
      for (const w of workers) await w.ready;
      for (const { process } of workers) process.child.kill('SIGTERM');
      for (const { process } of workers) expect((await process.exited).code).toBe(0);

      expect(kills).toBeGreaterThanOrEqual(4);
      expect(await succeeded()).toBe(JOBS);
      // Exactly once: one succeeded attempt per job, no job left in flight.
      expect(await count(`SELECT count(*) AS n FROM "${schema}".attempts WHERE outcome = 'succeeded'`)).toBe(JOBS);
      expect(await count(`SELECT count(DISTINCT job_id) AS n FROM "${schema}".attempts WHERE outcome = 'succeeded'`)).toBe(JOBS);
      expect(await count(`SELECT count(*) AS n FROM "${schema}".jobs WHERE state <> 'succeeded'`)).toBe(0);
      // Every job a killed worker held came back through its expired lease (a lost attempt of that
      // worker, keeping the attempt's real start) and then succeeded on a live worker.
      expect(held.size).toBeGreaterThan(0);
      const lost = (await client.query(`SELECT job_id, worker, started_at, finished_at FROM "${schema}".attempts WHERE outcome = 'lost'`))
        .rows as Array<{ job_id: string; worker: string; started_at: Date; finished_at: Date }>;
      for (const [job, worker] of held) expect(lost.some((r) => r.job_id === job && r.worker === worker)).toBe(true);
      for (const r of lost) expect(r.started_at.getTime()).toBeLessThanOrEqual(r.finished_at.getTime());
      const winners = (
        await client.query(`SELECT job_id, worker FROM "${schema}".attempts WHERE outcome = 'succeeded' AND job_id = ANY($1)`, [
          [...held.keys()],
        ])
      ).rows as Array<{ job_id: string; worker: string }>;
      expect(winners).toHaveLength(held.size);
      for (const r of winners) expect(r.worker).not.toBe(held.get(r.job_id));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const tails = all.map(({ id, process }) => `--- ${id}:\n${process.stderr.split('\n').slice(-12).join('\n')}`);
      log.push(...tails);
      throw new Error(`crash harness failed with seed ${SEED} (replay: DUCKORCH_CRASH_SEED=${SEED}):\n${log.join('\n')}\n${message}`, {
        cause: err,
      });
    } finally {
      await client.end();
    }
  });
});

/**
 * Exactly-once for SQL tasks, proven by killing real processes: `run` and `worker --once` over a
 * project of appending tasks are SIGKILLed at moments drawn from a seeded generator (a random
 * delay after start-up, just after the n-th task started, just after the n-th finished), again
 * and again; then a worker drains what is left. Every job's rows must be in the database exactly
 * once when the ledger says it succeeded, and not at all otherwise:
 *
 * - `append_*` tasks (16) insert 25 rows tagged with their job id (`{{ run_id }}`), no upsert;
 * - `grow_src` appends 10 new ids to `raw.src` (the next after its max), so its table holds
 *   1..10·n exactly when n of its jobs succeeded;
 * - `inc_*` tasks load `raw.src` incrementally (`@incremental_by id`, a plain INSERT): a
 *   watermark lost or read twice shows as a missing or duplicate id.
 *
 * On the embedded ledger (at least 200 kills, `DUCKORCH_CRASH_KILLS`) and on PostgreSQL (fewer:
 * each kill waits out the dead process's lease on the database). The seed is random per run; a
 * failure names it, and DUCKORCH_CRASH_SEED=<seed> replays the same draws.
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, startCli, tempProject, type CliProcess, type TempProject } from '../helpers.js';
import { freshSchema, postgresAvailable } from '../pg.js';

const SEED = process.env.DUCKORCH_CRASH_SEED ? Number(process.env.DUCKORCH_CRASH_SEED) : randomInt(2 ** 31);
const APPEND_ROWS = 25;
/** Many quick tasks: completions land while the ledger writes its batches. */
const APPENDS = 16;
const GROW = 10;

function lcg(seed: number): () => number {
  let x = seed % 2 ** 31;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** grow_src → inc_0..3, and APPENDS independent append tasks, two of them after an incremental one. */
function appendingProject(p: TempProject): void {
  p.write('tasks/grow_src.sql', `INSERT INTO raw.src SELECT (SELECT coalesce(max(id), 0) FROM raw.src) + range + 1 FROM range(${GROW});`);
  for (let i = 0; i < 4; i++)
    p.write(
      `tasks/inc_${i}.sql`,
      [
        `-- @depends_on grow_src`,
        '-- @incremental_by id',
        `CREATE TABLE IF NOT EXISTS mart.inc_${i} (id BIGINT, job VARCHAR);`,
        `INSERT INTO mart.inc_${i} SELECT id, '{{ run_id }}' FROM raw.src WHERE id > {{ last_processed_at }};`,
      ].join('\n'),
    );
  for (let i = 0; i < APPENDS; i++)
    p.write(
      `tasks/append_${i}.sql`,
      [
        ...(i < 2 ? [`-- @depends_on inc_${i}`] : []),
        `INSERT INTO log.events_${i} SELECT '{{ run_id }}', range FROM range(${APPEND_ROWS});`,
      ].join('\n'),
    );
}

interface LedgerView {
  /** job id → task and state, every job of every run. */
  jobs(): Promise<Array<{ id: string; task: string; state: string }>>;
  /** Succeeded attempts per job. */
  succeededAttempts(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

function embeddedView(db: string): LedgerView {
  return {
    jobs: async () =>
      ((await queryDb(db, 'SELECT job_id, task_name, state FROM __orch__.jobs')) as string[][]).map(([id, task, state]) => ({
        id: id!,
        task: task!,
        state: state!,
      })),
    succeededAttempts: async () =>
      new Map(
        (
          (await queryDb(db, "SELECT job_id, count(*) FROM __orch__.attempts WHERE outcome = 'succeeded' GROUP BY ALL")) as Array<
            [string, bigint]
          >
        ).map(([id, n]) => [id, Number(n)]),
      ),
    close: async () => undefined,
  };
}

async function postgresView(url: string, schema: string): Promise<LedgerView> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    jobs: async () =>
      (await client.query(`SELECT job_id AS id, task_name AS task, state FROM "${schema}".jobs`)).rows as Array<{
        id: string;
        task: string;
        state: string;
      }>,
    succeededAttempts: async () =>
      new Map(
        (
          (await client.query(`SELECT job_id, count(*)::int AS n FROM "${schema}".attempts WHERE outcome = 'succeeded' GROUP BY job_id`))
            .rows as Array<{ job_id: string; n: number }>
        ).map((r) => [r.job_id, r.n]),
      ),
    close: () => client.end(),
  };
}

async function crashHarness(options: { kills: number; env: Record<string, string>; view: (db: string) => Promise<LedgerView> }) {
  const random = lcg(SEED);
  const draw = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const p = tempProject();
  appendingProject(p);
  await queryDb(
    p.db,
    'CREATE SCHEMA raw; CREATE SCHEMA log; CREATE TABLE raw.src (id BIGINT);' +
      Array.from({ length: APPENDS }, (_, i) => `CREATE TABLE log.events_${i} (job VARCHAR, k BIGINT);`).join(''),
  );
  const cli = (args: string[]) => runCli(['--db', p.db, ...args], { env: options.env, cwd: p.dir });
  expect((await cli(['register', p.tasks])).code).toBe(0);
  const log: string[] = [];
  let last: CliProcess | undefined;
  let kills = 0;
  try {
    for (let round = 0; kills < options.kills; round++) {
      if (round > options.kills * 3) throw new Error(`only ${kills} kills in ${round} rounds`);
      const command = draw(['run', 'run', 'worker'] as const);
      if (command === 'worker' && random() < 0.5) expect((await cli(['enqueue'])).code).toBe(0);
      // On PostgreSQL a killed holder's lease on the database must run out first: --wait waits for it.
      const args = command === 'run' ? ['run', '-p', '4', '--wait'] : ['worker', '--once', '-c', '4'];
      const proc = startCli(['--db', p.db, ...args], { env: options.env, cwd: p.dir });
      last = proc;
      // Mostly kills; now and then a process that is let finish.
      const moment = draw(['delay', 'delay', 'delay', 'start', 'start', 'finish', 'finish', 'none'] as const);
      const n = 1 + Math.floor(random() * 10);
      const delay = Math.floor(random() * 1500);
      log.push(
        `round ${round}: ${command} killed ${moment === 'delay' ? `after ${delay} ms` : moment === 'none' ? 'never' : `after ${moment} ${n}`}`,
      );
      if (moment === 'none') {
        const r = await proc.exited;
        expect(r.code, r.stderr).toBe(0);
        continue;
      }
      // The moment: a random time after start-up, or a point of the process's own progress.
      const reached =
        moment === 'delay'
          ? new Promise((resolve) => setTimeout(resolve, delay))
          : lines(proc, moment === 'start' ? / start +\w/ : / finish +\w/, n);
      await Promise.race([reached, proc.exited]);
      proc.child.kill('SIGKILL');
      const r = await proc.exited;
      if (r.signal === 'SIGKILL') kills++;
      else expect(r.code, r.stderr).toBe(0);
    }
    // What the killed processes left: a worker works every queued job; then one more run.
    for (let tries = 0; ; tries++) {
      const r = await cli(['worker', '--once', '-c', '4']);
      expect(r.code, r.stderr).toBe(0);
      const depth = json<Record<string, number>>(await cli(['queue-depth', '--json']));
      if ((depth.pending ?? 0) + (depth.processing ?? 0) + (depth.failed ?? 0) === 0) break;
      if (tries > 20) throw new Error(`jobs left after ${tries} workers: ${JSON.stringify(depth)}`);
    }
    const final = await cli(['run', '--wait']);
    expect(final.code, final.stderr).toBe(0);

    const view = await options.view(p.db);
    try {
      const jobs = await view.jobs();
      const attempts = await view.succeededAttempts();
      expect(jobs.filter((j) => j.state !== 'succeeded' && j.state !== 'cancelled')).toEqual([]);
      // A success is recorded once, with one succeeded attempt; nothing else has one.
      for (const j of jobs) expect([j.task, attempts.get(j.id) ?? 0]).toEqual([j.task, j.state === 'succeeded' ? 1 : 0]);
      // Each append job's rows are there exactly when it succeeded.
      const rows = new Map(
        (
          (await queryDb(
            p.db,
            `SELECT job, count(*) FROM (${Array.from({ length: APPENDS }, (_, i) => `SELECT job FROM log.events_${i}`).join(' UNION ALL ')}) GROUP BY job`,
          )) as Array<[string, bigint]>
        ).map(([id, n]) => [id, Number(n)]),
      );
      const appends = jobs.filter((j) => j.task.startsWith('append_'));
      for (const j of appends) expect([j.task, rows.get(j.id) ?? 0]).toEqual([j.task, j.state === 'succeeded' ? APPEND_ROWS : 0]);
      expect([...rows.keys()].filter((id) => !appends.some((j) => j.id === id))).toEqual([]);
      // raw.src grew by GROW per succeeded grow_src job, once each.
      const grown = jobs.filter((j) => j.task === 'grow_src' && j.state === 'succeeded').length;
      expect(await queryDb(p.db, 'SELECT count(*), count(DISTINCT id), coalesce(max(id), 0) FROM raw.src')).toEqual([
        [BigInt(grown * GROW), BigInt(grown * GROW), BigInt(grown * GROW)],
      ]);
      // Every incremental table holds each source id once: nothing lost, nothing loaded twice.
      for (let i = 0; i < 4; i++)
        expect(await queryDb(p.db, `SELECT count(*), count(DISTINCT id) FROM mart.inc_${i}`)).toEqual([
          [BigInt(grown * GROW), BigInt(grown * GROW)],
        ]);
    } finally {
      await view.close();
    }
    expect(kills).toBeGreaterThanOrEqual(options.kills);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `crash harness failed with seed ${SEED} (replay: DUCKORCH_CRASH_SEED=${SEED}):\n${log.slice(-15).join('\n')}\n` +
        `--- last process:\n${last?.stderr.split('\n').slice(-15).join('\n')}\n${message}`,
      { cause: err },
    );
  }
}

/** Resolves once the process printed `n` lines matching `pattern` on stderr (or exited). */
async function lines(proc: CliProcess, pattern: RegExp, n: number): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  while (!exited && proc.stderr.split('\n').filter((l) => pattern.test(l)).length < n)
    await new Promise((resolve) => setTimeout(resolve, 5));
}

const EMBEDDED_KILLS = Number(process.env.DUCKORCH_CRASH_KILLS ?? 200);

describe('crash safety of SQL tasks: every job’s rows applied exactly once', () => {
  it(`embedded ledger: run and worker SIGKILLed ${EMBEDDED_KILLS} times at random moments`, { timeout: 900_000 }, async () => {
    await crashHarness({ kills: EMBEDDED_KILLS, env: {}, view: async (db) => embeddedView(db) });
  });

  it.skipIf(!postgresAvailable().ok)(
    'PostgreSQL ledger: run and worker SIGKILLed at random moments',
    { timeout: SUBPROCESS_TEST_TIMEOUT + 300_000 },
    async () => {
      const { url, schema } = await freshSchema();
      await crashHarness({
        kills: Math.max(10, Math.round(EMBEDDED_KILLS / 8)),
        env: { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '1s', DB_POOL_MAX: '4' },
        view: () => postgresView(url, schema),
      });
    },
  );
});

/**
 * A SQL project across machines: two `duck-orch worker` processes, each in a working folder of
 * its own that reaches one shared data folder under its own path (as two machines mounting one
 * share would), and one PostgreSQL ledger. One worker at a time holds the DuckDB file (its lease
 * in the ledger, keyed by the id inside the file), the other takes the jobs that need no
 * database; when the holder is killed, the other takes the file over once the lease runs out.
 * And a worker killed between a job's data commit and its completion: the next worker records
 * the job from its completion marker instead of applying its data twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { READY_TIMEOUT, SUBPROCESS_TEST_TIMEOUT, queryDb, runCli, startCli, tempDir } from '../helpers.js';

const SQL_TASKS = 4;
const DAG_TASKS = 6;

interface Layout {
  root: string;
  /** The working folders of the two workers; each has `data/` reaching the shared data folder. */
  a: string;
  b: string;
  tasks: string;
}

/** `data/` holds the database; `a/data` and `b/data` lead to it under other paths. */
function layout(): Layout {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'data'));
  const [a, b] = ['a', 'b'].map((name) => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    fs.symlinkSync(path.join(root, 'data'), path.join(dir, 'data'));
    return dir;
  }) as [string, string];
  const tasks = path.join(root, 'tasks');
  fs.mkdirSync(tasks);
  return { root, a, b, tasks };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Polls the ledger until `condition` holds (what the test waits for is a state row, never a time). */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.skipIf(!postgresAvailable().ok)('a SQL project worked from several machines', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('one worker at a time holds the database; the other takes the rest, and the file once the holder dies', async () => {
    const { url, schema } = await freshSchema();
    const l = layout();
    for (let i = 0; i < SQL_TASKS; i++)
      fs.writeFileSync(
        path.join(l.tasks, `s${i}.sql`),
        `CREATE TABLE IF NOT EXISTS s${i}_runs (n INTEGER);\nINSERT INTO s${i}_runs VALUES (1);\n`,
      );
    // Dag function tasks need no database: the worker without the file takes them. Each waits at
    // a barrier until both worker processes have started one (a file per pid), so both take some
    // whatever the machine's speed.
    const barrier = path.join(l.root, 'barrier');
    fs.mkdirSync(barrier);
    fs.writeFileSync(
      path.join(l.tasks, 'side.ts'),
      `import fs from 'node:fs';
import path from 'node:path';
import { Dag } from 'duckorch';
const barrier = ${JSON.stringify(barrier)};
export const side = new Dag('side');
for (let i = 0; i < ${DAG_TASKS}; i++)
  side.task({ name: 'side_' + i }, async () => {
    fs.writeFileSync(path.join(barrier, String(process.pid)), '');
    const deadline = Date.now() + 60_000;
    while (fs.readdirSync(barrier).length < 2) {
      if (Date.now() > deadline) throw new Error('only one worker took side jobs');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { i, pid: process.pid };
  });
`,
    );
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '2s' };
    const db = ['--db', 'data/warehouse.duckdb'];
    const registered = await runCli([...db, 'register', l.tasks], { cwd: l.a, env });
    expect(registered.code, registered.stderr).toBe(0);

    const a = startCli([...db, 'worker', '-c', '2', '--worker-id', 'worker-a'], { cwd: l.a, env });
    await a.waitForStderr(/holds database [0-9a-f-]{36} \(data\/warehouse\.duckdb\)/);
    const b = startCli([...db, 'worker', '-c', '4', '--worker-id', 'worker-b'], { cwd: l.b, env });
    await b.waitForStderr(
      /data\/warehouse\.duckdb is (in use by another process|held by worker worker-a): taking jobs that need no database/,
    );
    // Enqueued while both wait: through the holder, which has the file open.
    const first = await runCli([...db, 'enqueue', '--json'], { cwd: l.a, env });
    expect(first.code, first.stderr).toBe(0);
    const run1 = (JSON.parse(first.stdout) as { run: { run_id: string } }).run.run_id;

    await withClient(url, async (c) => {
      const jobs = (runId: string) =>
        c.query<{ task_name: string; state: string; database_id: string | null; worker: string; outcome: string }>(
          `SELECT j.task_name, j.state, j.database_id, a.worker, a.outcome FROM "${schema}".jobs j
           JOIN "${schema}".attempts a USING (job_id) WHERE j.run_id = $1 ORDER BY j.task_name, a.attempt_seq`,
          [runId],
        );
      const finished = async (runId: string) =>
        Number(
          (await c.query(`SELECT count(*) AS n FROM "${schema}".jobs WHERE run_id = $1 AND state <> 'succeeded'`, [runId])).rows[0].n,
        ) === 0;
      await until('the first run to succeed', () => finished(run1));
      const rows1 = (await jobs(run1)).rows;
      const sql1 = rows1.filter((r) => /^s\d$/.test(r.task_name));
      const side1 = rows1.filter((r) => r.task_name.startsWith('side_'));
      // Every SQL job ran once, by the holder; jobs that need no database went to both workers.
      expect(sql1.map((r) => [r.task_name, r.worker, r.outcome])).toEqual(
        Array.from({ length: SQL_TASKS }, (_, i) => [`s${i}`, 'worker-a', 'succeeded']),
      );
      const databaseId = sql1[0]!.database_id;
      expect(databaseId).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(sql1.map((r) => r.database_id))).toEqual(new Set([databaseId]));
      expect(side1.every((r) => r.database_id === null && r.outcome === 'succeeded')).toBe(true);
      expect(side1).toHaveLength(DAG_TASKS);
      expect(new Set(side1.map((r) => r.worker))).toEqual(new Set(['worker-a', 'worker-b']));
      const lease = await c.query<{ worker: string; expires_at: Date }>(`SELECT worker, expires_at FROM "${schema}".database_leases`);
      expect(lease.rows.map((r) => r.worker)).toEqual(['worker-a']);

      // The holder dies. Its lease runs out; the other worker takes the file over and works the next run.
      a.child.kill('SIGKILL');
      await a.exited;
      await b.waitForStderr(/holds database [0-9a-f-]{36} \(data\/warehouse\.duckdb\)/);
      // Enqueued through the new holder, which has the file open now.
      const second = await runCli([...db, 'enqueue', '--json'], { cwd: l.b, env });
      expect(second.code, second.stderr).toBe(0);
      const run2 = (JSON.parse(second.stdout) as { run: { run_id: string } }).run.run_id;
      await until('the second run to succeed', () => finished(run2));
      const sql2 = (await jobs(run2)).rows.filter((r) => /^s\d$/.test(r.task_name));
      expect(sql2.map((r) => [r.task_name, r.worker, r.outcome])).toEqual(
        Array.from({ length: SQL_TASKS }, (_, i) => [`s${i}`, 'worker-b', 'succeeded']),
      );
      const taken = await c.query<{ worker: string; acquired_at: Date }>(
        `SELECT worker, acquired_at FROM "${schema}".database_leases WHERE database_id = $1`,
        [databaseId],
      );
      expect(taken.rows.map((r) => r.worker)).toEqual(['worker-b']);
      // Not before the dead holder's lease had run out.
      expect(taken.rows[0]!.acquired_at.getTime()).toBeGreaterThanOrEqual(lease.rows[0]!.expires_at.getTime());
    });
    b.child.kill('SIGTERM');
    const stopped = await b.exited;
    expect(stopped.code, stopped.stderr).toBe(0);
    // A worker that stops gives its lease back.
    await withClient(url, async (c) => {
      expect((await c.query(`SELECT * FROM "${schema}".database_leases`)).rows).toEqual([]);
    });
    // Each SQL job's data landed exactly once per run.
    for (let i = 0; i < SQL_TASKS; i++)
      expect(await queryDb(path.join(l.root, 'data/warehouse.duckdb'), `SELECT count(*)::INTEGER FROM s${i}_runs`)).toEqual([[2]]);
  });

  it('`run` holds the database like a worker while it works, and refuses when another worker holds it', async () => {
    const { url, schema } = await freshSchema();
    const l = layout();
    fs.writeFileSync(path.join(l.tasks, 'one.sql'), 'CREATE OR REPLACE TABLE one AS SELECT 1 AS x;\n');
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const db = ['--db', 'data/warehouse.duckdb'];
    expect((await runCli([...db, 'register', l.tasks], { cwd: l.a, env })).code).toBe(0);
    const ok = await runCli([...db, 'run'], { cwd: l.a, env });
    expect(ok.code, ok.stderr).toBe(0);
    const [[id]] = (await queryDb(
      path.join(l.root, 'data/warehouse.duckdb'),
      "SELECT value FROM __orch__.database_meta WHERE key = 'database_id'",
    )) as [[string]];
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const ledger = new PgLedger(pool, { schema });
      // Given back when the run ended: a worker elsewhere may take it.
      expect((await ledger.holdDatabase(id, 'elsewhere', 60_000, new Date())).worker).toBe('elsewhere');
      const refused = await runCli([...db, 'run'], { cwd: l.b, env });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /database data\/warehouse\.duckdb is held by worker elsewhere \(its lease on the shared ledger runs until /,
      );
      // Refused before anything was planned.
      expect(await ledger.queueDepth()).toEqual({ succeeded: 1 });
    } finally {
      await pool.end();
    }
  });

  it('a worker killed between the data commit and its completion: the job is recorded from its marker, its data applied once', async () => {
    const { url, schema } = await freshSchema();
    const l = layout();
    fs.writeFileSync(
      path.join(l.tasks, 'append.sql'),
      `CREATE TABLE IF NOT EXISTS appended (n INTEGER);\nINSERT INTO appended VALUES (1);\n`,
    );
    fs.writeFileSync(path.join(l.tasks, 'after.sql'), `CREATE OR REPLACE TABLE after_append AS SELECT count(*) AS n FROM appended;\n`);
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema, DUCKORCH_LEASE: '1s' };
    const db = ['--db', 'data/warehouse.duckdb'];
    expect((await runCli([...db, 'register', l.tasks], { cwd: l.a, env })).code).toBe(0);
    expect((await runCli([...db, 'enqueue'], { cwd: l.a, env })).code).toBe(0);

    // Dies right after `append`'s DuckDB COMMIT, before PostgreSQL hears of it (a fault injected for tests).
    const crashed = await runCli([...db, 'worker', '--once'], {
      cwd: l.a,
      env: { ...env, DUCKORCH_TEST_CRASH_AFTER_DATA_COMMIT: 'append' },
    });
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    const file = path.join(l.root, 'data/warehouse.duckdb');
    expect(await queryDb(file, 'SELECT count(*)::INTEGER FROM appended')).toEqual([[1]]);

    await withClient(url, async (c) => {
      const state = await c.query(`SELECT state, lease_owner FROM "${schema}".jobs WHERE task_name = 'append'`);
      expect(state.rows[0].state).toBe('processing');
      // The dead worker's leases (the job's, the database's) run out.
      await until(
        'the dead worker’s leases to run out',
        async () =>
          Number(
            (
              await c.query(
                `SELECT (SELECT count(*) FROM "${schema}".jobs WHERE state = 'processing' AND lease_expires_at > now())
                      + (SELECT count(*) FROM "${schema}".database_leases WHERE expires_at > now()) AS n`,
              )
            ).rows[0].n,
          ) === 0,
      );
    });
    const recovered = await runCli([...db, 'worker', '--once'], { cwd: l.b, env });
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(recovered.stderr).toMatch(/recover append: attempt 1 committed its data; recorded from its completion marker, not run again/);
    expect(recovered.stderr).not.toMatch(/start +after \(attempt 2\)/);

    expect(await queryDb(file, 'SELECT count(*)::INTEGER FROM appended')).toEqual([[1]]);
    expect(await queryDb(file, 'SELECT n::INTEGER FROM after_append')).toEqual([[1]]);
    expect(await queryDb(file, 'SELECT job_id IS NOT NULL, attempt FROM __orch__.completion_markers ORDER BY attempt')).toEqual([
      [true, 1],
      [true, 1],
    ]);
    await withClient(url, async (c) => {
      const jobs = await c.query(`SELECT task_name, state, attempts FROM "${schema}".jobs ORDER BY task_name`);
      expect(jobs.rows).toEqual([
        { task_name: 'after', state: 'succeeded', attempts: 1 },
        { task_name: 'append', state: 'succeeded', attempts: 1 },
      ]);
      const attempts = await c.query(
        `SELECT attempt, outcome FROM "${schema}".attempts a JOIN "${schema}".jobs j USING (job_id) WHERE j.task_name = 'append' ORDER BY attempt_seq`,
      );
      // The dead worker's attempt is lost (a lost attempt does not count); the one that succeeded is the recovery, not a second run.
      expect(attempts.rows).toEqual([
        { attempt: 1, outcome: 'lost' },
        { attempt: 1, outcome: 'succeeded' },
      ]);
    });
  });
});

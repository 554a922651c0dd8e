/**
 * With the ledger in PostgreSQL, commands about runs and jobs need no DuckDB file, as a new user
 * meets them: in a folder holding only a DAG module and `DATABASE_URL`, they work and leave no
 * `*.duckdb` behind; sixteen of them run at once; the registry's `enqueue` reads the database
 * file read-only; several DAG workers share one folder beside the registry's worker, which holds
 * the file; and `status` tells a removed task from the ledger alone, by each run's own definitions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { READY_TIMEOUT, SUBPROCESS_TEST_TIMEOUT, json, runCli, startCli, tempDir, type CliResult } from '../helpers.js';

/** `extract` → `load`, and `broken`, which always throws (a dead job for `failures` and `retry-dead`). */
const ETL = `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: 'extract' }, async (inputs: { day?: string } | null) => ({ day: inputs?.day ?? null }));
etl.task({ name: 'load', requires: ['extract'] }, async ({ extract }: { extract: unknown }) => ({ loaded: extract }));
etl.task({ name: 'broken' }, async () => {
  throw new Error('the source is down');
});
`;

/** Every file and folder under `dir` whose name mentions `.duckdb` (a database, its WAL, its socket). */
function duckdbFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.includes('.duckdb'));
}

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  onTestFinished(() => c.end());
  return c;
}

/** Polls `condition` (a state row in the ledger), never a fixed sleep. */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const ok = (r: CliResult, what: string) => expect(r.code, `${what}:\n${r.stdout}\n${r.stderr}`).toBe(0);

describe.skipIf(!postgresAvailable().ok)('the ledger on PostgreSQL needs no DuckDB file', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  /** A folder with `dags/etl.ts` and the CLI run in it with only DATABASE_URL (and the test's schema). */
  async function folder() {
    const { url, schema } = await freshSchema();
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'dags'));
    fs.writeFileSync(path.join(dir, 'dags', 'etl.ts'), ETL);
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    const cli = (args: string[], cwd = dir) => runCli(args, { cwd, env });
    return { url, schema, dir, env, cli, db: await client(url) };
  }

  it('in a fresh folder, init-db, snapshot, enqueue, the reads, cancel, the retries and DAG workers work and create no database file', async () => {
    const { dir, cli, db, schema } = await folder();
    ok(await cli(['init-db']), 'init-db');
    ok(await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl']), 'snapshot --activate');
    const listed = await cli(['snapshot', '--list', '--json']);
    ok(listed, 'snapshot --list');
    expect(json<Array<{ dag: string; active: boolean }>>(listed)).toMatchObject([{ dag: 'etl', active: true }]);

    const byName = await cli(['enqueue', '--dag', 'etl', '--inputs', '{"day": "2026-12-01"}', '--json']);
    ok(byName, 'enqueue --dag etl');
    expect(json<{ run: { dag: string; tasks: number } }>(byName).run).toMatchObject({ dag: 'etl', tasks: 3 });
    const byModule = await cli(['enqueue', '--dag', 'dags/etl.ts:etl']);
    ok(byModule, 'enqueue --dag module:export');
    // The worker to run is named as the run was: the module works whether or not a snapshot is active.
    expect(byModule.stdout).toMatch(/^Enqueued run [0-9a-f-]{36} \(3 tasks\); work it with: duck-orch --dag dags\/etl\.ts:etl worker$/m);

    // A DAG's worker and the registry's, in a folder with no database: the registry's says so and works what needs none.
    ok(await cli(['--dag', 'etl', 'worker', '--once']), 'worker --dag etl --once');
    const registryWorker = await cli(['worker', '--once']);
    ok(registryWorker, 'worker --once');
    expect(registryWorker.stderr).toContain('database mydata.duckdb does not exist: taking jobs that need no database meanwhile');
    // A run of the DAG is worked in-process, holding no file either.
    ok(await cli(['--dag', 'etl', 'run', '-s', 'load']), 'run --dag etl');

    const status = await cli(['status', '--json']);
    ok(status, 'status');
    const jobs = json<{ jobs: Array<{ task: string; state: string; task_removed: boolean }> }>(status).jobs;
    expect(jobs.filter((j) => j.task === 'broken').map((j) => j.state)).toEqual(['dead', 'dead']);
    expect(jobs.filter((j) => j.task !== 'broken').every((j) => j.state === 'succeeded')).toBe(true);
    expect(jobs.some((j) => j.task_removed)).toBe(false);
    const depth = await cli(['queue-depth', '--json']);
    ok(depth, 'queue-depth');
    expect(json(depth)).toMatchObject({ succeeded: 5, dead: 2, pending: 0 });
    const failures = await cli(['failures', '--json']);
    ok(failures, 'failures');
    expect(json<Array<{ task: string; failures: number; last_error: string }>>(failures)).toMatchObject([
      { task: 'broken', failures: 2, last_error: expect.stringContaining('the source is down') },
    ]);
    const stale = await cli(['stale-locks', '--json']);
    ok(stale, 'stale-locks');
    expect(json<unknown[]>(stale)).toEqual([]);

    const queued = json<{ run: { run_id: string } }>(await cli(['--dag', 'etl', 'enqueue', '--json'])).run.run_id;
    const cancelled = await cli(['cancel', queued.slice(0, 8), '--json']);
    ok(cancelled, 'cancel');
    expect(json(cancelled)).toMatchObject({ run: { run_id: queued, state: 'cancelled' }, cancelled: 3 });
    const dead = await cli(['retry-dead', '--json']);
    ok(dead, 'retry-dead');
    expect(json(dead)).toEqual({ requeued: 2 });
    const failed = await cli(['retry-failed', '--all-runs', '--json']);
    ok(failed, 'retry-failed --all-runs');
    expect(json(failed)).toEqual({ requeued: 0 });
    ok(await cli(['--dag', 'etl', 'test']), 'test --dag etl');
    ok(await cli(['--dag', 'etl', 'init-db']), 'init-db --dag etl');
    expect(Number((await db.query(`SELECT count(*)::int AS n FROM "${schema}".runs`)).rows[0].n)).toBe(4);

    expect(duckdbFiles(dir)).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['dags']);
  });

  it('sixteen `enqueue --dag etl` at once all succeed, and create no database file', async () => {
    const { dir, cli, db, schema } = await folder();
    ok(await cli(['init-db']), 'init-db');
    ok(await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl']), 'snapshot --activate');
    const results = await Promise.all(Array.from({ length: 16 }, () => cli(['enqueue', '--dag', 'etl'])));
    for (const r of results) ok(r, 'enqueue --dag etl');
    expect(Number((await db.query(`SELECT count(*)::int AS n FROM "${schema}".runs WHERE dag_name = 'etl'`)).rows[0].n)).toBe(16);
    expect(duckdbFiles(dir)).toEqual([]);
  });

  it('sixteen enqueues of the registry at once all succeed, reading its database file read-only', async () => {
    const { dir, cli, db, schema } = await folder();
    fs.mkdirSync(path.join(dir, 'tasks'));
    fs.writeFileSync(path.join(dir, 'tasks', 'one.sql'), 'CREATE OR REPLACE TABLE one AS SELECT 1 AS x;\n');
    ok(await cli(['register', 'tasks']), 'register');
    // This process keeps the file open read-only meanwhile: DuckDB then lets no process open it to write.
    const reader = await DuckDBInstance.create(path.join(dir, 'mydata.duckdb'), { access_mode: 'READ_ONLY' });
    try {
      const writer = await cli(['run']);
      expect(writer.code).toBe(1);
      expect(writer.stderr).toContain('database mydata.duckdb is in use by another process');
      const results = await Promise.all(Array.from({ length: 16 }, () => cli(['enqueue'])));
      for (const r of results) ok(r, 'enqueue');
    } finally {
      reader.closeSync();
    }
    expect(Number((await db.query(`SELECT count(*)::int AS n FROM "${schema}".runs WHERE dag_name IS NULL`)).rows[0].n)).toBe(16);
  });

  it('several DAG workers in one folder share its work beside the registry’s worker, which holds the file', async () => {
    const { dir, cli, env, db, schema } = await folder();
    // Each task waits until every DAG worker has started one (a file per worker pid), so the test
    // fails unless all three take part, whatever the machine's speed.
    const barrier = path.join(dir, 'barrier');
    fs.mkdirSync(barrier);
    fs.writeFileSync(
      path.join(dir, 'dags', 'shared.ts'),
      `import fs from 'node:fs';
import path from 'node:path';
import { Dag } from 'duckorch';
const barrier = ${JSON.stringify(barrier)};
export const shared = new Dag('shared');
for (let i = 0; i < 6; i++)
  shared.task({ name: 'part_' + i }, async () => {
    fs.writeFileSync(path.join(barrier, String(process.pid)), '');
    const deadline = Date.now() + 60_000;
    while (fs.readdirSync(barrier).length < 3) {
      if (Date.now() > deadline) throw new Error('not every DAG worker took a job');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { i };
  });
`,
    );
    fs.mkdirSync(path.join(dir, 'tasks'));
    fs.writeFileSync(path.join(dir, 'tasks', 'one.sql'), 'CREATE OR REPLACE TABLE one AS SELECT 1 AS x;\n');
    ok(await cli(['register', 'tasks']), 'register');
    ok(await cli(['snapshot', '--activate', '--dag', 'dags/shared.ts:shared']), 'snapshot --activate');

    const registryWorker = startCli(['worker', '--worker-id', 'registry'], { cwd: dir, env });
    await registryWorker.waitForStderr(/holds database [0-9a-f-]{36} \(mydata\.duckdb\): working its jobs/);
    const dagWorkers = [1, 2, 3].map((n) =>
      startCli(['--dag', 'shared', 'worker', '-c', '1', '--worker-id', `dag-${n}`], { cwd: dir, env }),
    );
    for (const w of dagWorkers) await w.waitForStderr(/ started on DAG shared as dag-\d/);
    ok(await cli(['--dag', 'shared', 'enqueue']), 'enqueue --dag shared');
    // Through the registry's worker, which has the file open.
    ok(await cli(['enqueue']), 'enqueue');

    await until('every job to succeed', async () => {
      const r = await db.query(
        `SELECT count(*) FILTER (WHERE state <> 'succeeded')::int AS left, count(*)::int AS n FROM "${schema}".jobs`,
      );
      return r.rows[0].n === 7 && r.rows[0].left === 0;
    });
    const attempts = (
      await db.query<{ task_name: string; worker: string }>(`SELECT task_name, worker FROM "${schema}".attempts ORDER BY task_name`)
    ).rows;
    expect(attempts.filter((a) => a.task_name === 'one').map((a) => a.worker)).toEqual(['registry']);
    const parts = attempts.filter((a) => a.task_name.startsWith('part_'));
    expect(parts).toHaveLength(6);
    expect(new Set(parts.map((a) => a.worker))).toEqual(new Set(['dag-1', 'dag-2', 'dag-3']));

    for (const w of [registryWorker, ...dagWorkers]) {
      w.child.kill('SIGTERM');
      const r = await w.exited;
      ok(r, 'a worker stopped with SIGTERM');
      expect(r.stderr).not.toMatch(/in use by another process|DB_LOCKED/);
    }
  });

  it('status marks a task removed only when its own run’s definitions no longer have it', async () => {
    const { dir, cli, env } = await folder();
    fs.mkdirSync(path.join(dir, 'tasks'));
    fs.writeFileSync(path.join(dir, 'tasks', 'a.sql'), 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;\n');
    fs.writeFileSync(path.join(dir, 'tasks', 'b.sql'), 'CREATE OR REPLACE TABLE b AS SELECT x FROM a;\n');
    // Another database with a task of the same name, which keeps it.
    const other = path.join(dir, 'other');
    fs.mkdirSync(path.join(other, 'tasks'), { recursive: true });
    fs.writeFileSync(path.join(other, 'tasks', 'b.sql'), 'CREATE OR REPLACE TABLE b AS SELECT 2 AS x;\n');
    fs.writeFileSync(
      path.join(dir, 'dags', 'side.ts'),
      `import { Dag } from 'duckorch';\nexport const side = new Dag('side');\nside.task({ name: 'load' }, async () => 1);\n`,
    );
    ok(await cli(['register', 'tasks']), 'register');
    ok(await cli(['run']), 'run');
    ok(await cli(['register', 'tasks'], other), 'register (other)');
    ok(await cli(['run'], other), 'run (other)');
    ok(await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl']), 'snapshot --activate');
    ok(await cli(['--dag', 'etl', 'run', '-s', 'load']), 'run --dag etl');
    // A DAG run from a module never activated: nothing says its tasks went away.
    ok(await cli(['--dag', 'dags/side.ts:side', 'run']), 'run --dag side');

    const removed = async () => {
      const r = await runCli(['status', '--json'], { cwd: dir, env });
      ok(r, 'status');
      const jobs = json<{ jobs: Array<{ run_id: string; task: string; task_removed: boolean }> }>(r).jobs;
      return jobs
        .filter((j) => j.task_removed)
        .map((j) => j.task)
        .sort();
    };
    expect(await removed()).toEqual([]);

    fs.rmSync(path.join(dir, 'tasks', 'b.sql'));
    ok(await cli(['register', 'tasks']), 'register without b');
    // This database's b only; the other database's b and the DAGs' tasks are still defined.
    expect(await removed()).toEqual(['b']);
    const text = await cli(['status']);
    expect(text.stdout).toMatch(/ b \(removed\) +succeeded/);
    expect(text.stdout).not.toMatch(/(extract|load|a) \(removed\)/);

    // The DAG's active snapshot without `load`: etl's load is gone, side's load (another DAG) is not.
    fs.writeFileSync(
      path.join(dir, 'dags', 'etl.ts'),
      `import { Dag } from 'duckorch';\nexport const etl = new Dag('etl');\netl.task({ name: 'extract' }, async () => 1);\n`,
    );
    ok(await cli(['snapshot', '--activate', '--dag', 'dags/etl.ts:etl']), 'snapshot --activate (no load)');
    const status = json<{ jobs: Array<{ task: string; task_removed: boolean }> }>(await cli(['status', '--json'])).jobs;
    expect(status.map((j) => `${j.task}:${j.task_removed}`).sort()).toEqual(['a:false', 'b:false', 'b:true', 'load:false', 'load:true']);
  });
});

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgLedger } from '../../src/store/postgres/pg-ledger.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';
import { SUBPROCESS_TEST_TIMEOUT, json, queryDb, runCli, tempProject } from '../helpers.js';

describe.skipIf(!postgresAvailable().ok)('a SQL project with its ledger in PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  it('registers and runs unchanged with DATABASE_URL set: runs, jobs and history in PostgreSQL, data in DuckDB', async () => {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    p.write('tasks/b.sql', 'CREATE OR REPLACE TABLE b AS SELECT x + 1 AS x FROM a;');
    p.write('tasks/c.sql', 'CREATE OR REPLACE TABLE c AS SELECT x FROM b JOIN nosuch USING (x);');
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
    const run = await runCli(['--db', p.db, 'run', '--json'], { env });
    expect(run.code).toBe(1);
    const result = json<{ run: { state: string }; jobs: Array<{ task: string; state: string }> }>(run);
    expect(result.run.state).toBe('failed');
    expect(Object.fromEntries(result.jobs.map((j) => [j.task, j.state]))).toEqual({ a: 'succeeded', b: 'succeeded', c: 'dead' });
    expect(await queryDb(p.db, 'SELECT x FROM b')).toEqual([[2]]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const jobs = await client.query(`SELECT task_name, state FROM "${schema}".jobs ORDER BY task_name`);
      expect(jobs.rows).toEqual([
        { task_name: 'a', state: 'succeeded' },
        { task_name: 'b', state: 'succeeded' },
        { task_name: 'c', state: 'dead' },
      ]);
      expect((await client.query(`SELECT count(*)::int AS n FROM "${schema}".attempts`)).rows).toEqual([{ n: 3 }]);
    } finally {
      await client.end();
    }
    // The DuckDB file keeps the registry and the data, not the history.
    expect(await queryDb(p.db, 'SELECT count(*) FROM __orch__.jobs')).toEqual([[0n]]);
    const status = await runCli(['--db', p.db, 'status', '--json'], { env });
    expect(
      json<{ jobs: Array<{ task: string }> }>(status)
        .jobs.map((j) => j.task)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    // Without DATABASE_URL the same project reads its own (empty) embedded history.
    expect((await runCli(['--db', p.db, 'status'])).stdout).toContain('No runs yet');
  });

  it('a worker that died leaves a stale lease; stale-locks lists it and the next worker takes the job back', async () => {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    const env = { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema };
    expect((await runCli(['--db', p.db, 'register', p.tasks], { env })).code).toBe(0);
    expect((await runCli(['--db', p.db, 'enqueue'], { env })).code).toBe(0);
    // A worker on another machine claims the job, then disappears without a heartbeat.
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const ledger = new PgLedger(pool, { schema });
    const [job] = await ledger.claim({ worker: 'ghost', limit: 1, leaseMs: 1, now: new Date() });
    expect(job?.task).toBe('a');
    await pool.end();
    const stale = json<Array<{ task: string; lease_owner: string }>>(await runCli(['--db', p.db, 'stale-locks', '--json'], { env }));
    expect(stale.map((j) => [j.task, j.lease_owner])).toEqual([['a', 'ghost']]);
    const worker = await runCli(['--db', p.db, 'worker', '--once'], { env });
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stderr).toMatch(/ finish a +succeeded/);
    expect((await runCli(['--db', p.db, 'stale-locks'], { env })).stdout).toContain('No stale leases.');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const attempts = await client.query(`SELECT worker, outcome FROM "${schema}".attempts ORDER BY attempt_seq`);
      expect(attempts.rows.map((r: { worker: string; outcome: string }) => [r.worker === 'ghost' ? 'ghost' : 'live', r.outcome])).toEqual([
        ['ghost', 'lost'],
        ['live', 'succeeded'],
      ]);
    } finally {
      await client.end();
    }
  });

  it('says which part of the URL is wrong, and that postgres needs one', async () => {
    const p = tempProject();
    p.write('tasks/a.sql', 'CREATE OR REPLACE TABLE a AS SELECT 1 AS x;');
    const { url } = await pgDatabase();
    const u = new URL(url);
    u.pathname = '/no_such_database_here';
    const missing = await runCli(['--db', p.db, 'register', p.tasks], { env: { DATABASE_URL: u.toString() } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('database no_such_database_here does not exist on PostgreSQL at');
    const noUrl = await runCli(['--db', p.db, '--store', 'postgres', 'register', p.tasks]);
    expect(noUrl.code).not.toBe(0);
    expect(noUrl.stderr).toContain('`orch_store` is postgres but no database URL is set');
  });
});

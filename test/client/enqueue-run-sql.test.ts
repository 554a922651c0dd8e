/**
 * Transactional enqueue on PostgreSQL: `<schema>.enqueue_run(dag, inputs, metadata)` (migration
 * 6) inside an application's own transaction — its run commits with the application's insert or
 * not at all, the workers' NOTIFY arrives only at commit, and its rows are those the client's
 * enqueue (`PgLedger.enqueueRun`) writes.
 */
import os from 'node:os';
import pg from 'pg';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Project } from '../../src/app/project.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { connect } from '../../src/index.js';
import { SUBPROCESS_TEST_TIMEOUT, tempProject, waitFor } from '../helpers.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';

const ETL = `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: 'extract', retries: 2 }, async (inputs: { day?: string } | null) => ({ day: inputs?.day ?? null }));
etl.task({ name: 'load', requires: ['extract'] }, async ({ extract }: { extract: { day: string | null } }) => ({ loaded: extract.day }));
etl.task({ name: 'audit' }, async () => 'ok');
`;

type Row = Record<string, unknown>;

describe.skipIf(!postgresAvailable().ok)('enqueue_run() in an application’s transaction', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  /** A schema initialised with DAG `etl` active, an application table `orders`, and connections on it. */
  async function setup() {
    const { url, schema } = await freshSchema();
    const p = tempProject();
    const module = p.write('dags/etl.ts', ETL);
    const config = loadConfig({ env: { DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema }, flags: { db: p.db }, cwd: os.tmpdir() });
    const project = await Project.open({ config, access: 'create', dag: `${module}:etl`, ledgerSchema: 'migrate' });
    try {
      await project.snapshot({ activate: true });
    } finally {
      await project.close();
    }
    const open = async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      onTestFinished(() => c.end());
      return c;
    };
    const app = await open();
    await app.query(`CREATE TABLE "${schema}".orders (id int PRIMARY KEY)`);
    // Counts from outside the application's transaction.
    const outside = await open();
    const count = async (table: string, where = '') =>
      Number((await outside.query(`SELECT count(*) AS n FROM "${schema}".${table} ${where}`)).rows[0].n);
    return { url, schema, config, app, open, count, s: `"${schema}"` };
  }

  async function workAll(config: Config): Promise<void> {
    const worker = await Project.open({ config, access: 'create', dag: 'etl' });
    try {
      await worker.work({ untilIdle: true, concurrency: 2 });
    } finally {
      await worker.close();
    }
  }

  it('commits with the application’s insert or not at all; NOTIFY reaches workers at commit; a worker works the run', async () => {
    const { url, schema, config, app, open, count, s } = await setup();
    const listener = await open();
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    await listener.query(`LISTEN "${schema}_jobs"`);

    // Rolled back: neither the order nor the run.
    await app.query('BEGIN');
    await app.query(`INSERT INTO ${s}.orders VALUES (1)`);
    const lost = (await app.query(`SELECT ${s}.enqueue_run('etl', '{"day": "lost"}') AS id`)).rows[0].id as string;
    expect(lost).toMatch(/^[0-9a-f-]{36}$/);
    await app.query('ROLLBACK');
    expect([await count('orders'), await count('runs'), await count('jobs')]).toEqual([0, 0, 0]);

    // Committed: both. The run's NOTIFY is not delivered while its transaction is open: a marker
    // sent from another connection meanwhile arrives alone (notifications come in commit order).
    await app.query('BEGIN');
    await app.query(`INSERT INTO ${s}.orders VALUES (2)`);
    const id = (await app.query(`SELECT ${s}.enqueue_run('etl', '{"day": "2026-12-01"}', '{"order": 2}') AS id`)).rows[0].id as string;
    const other = await open();
    await other.query(`NOTIFY "${schema}_jobs", 'marker'`);
    await waitFor('the marker notification', () => heard.includes('marker'));
    expect(heard).toEqual(['marker']);
    expect(await count('runs')).toBe(0);
    await app.query('COMMIT');
    await waitFor('the run’s notification', () => heard.length === 2);
    expect(heard).toEqual(['marker', '']);
    expect([await count('orders'), await count('runs'), await count('jobs', `WHERE run_id = '${id}'`)]).toEqual([1, 1, 3]);

    const client = await connect(url, { schema });
    try {
      expect(await client.getRun(id)).toMatchObject({
        id,
        state: 'queued',
        trigger: 'enqueue',
        dag: 'etl',
        tasks: 3,
        metadata: { order: 2 },
      });
      await workAll(config);
      expect(await client.waitForRun(id, { timeoutMs: 0 })).toMatchObject({ state: 'succeeded', jobs: { succeeded: 3 } });
    } finally {
      await client.close();
    }
    const load = (await app.query(`SELECT result FROM ${s}.jobs WHERE run_id = $1 AND task_name = 'load'`, [id])).rows[0];
    expect(load.result).toEqual({ loaded: '2026-12-01' });
  });

  it('writes the rows the client’s enqueue writes: the same columns filled, the same values but ids and times', async () => {
    const { url, schema, app, s } = await setup();
    const client = await connect(url, { schema });
    let viaClient: string;
    try {
      viaClient = (await client.enqueue('etl', { day: 'd' }, { metadata: { m: 1 } })).id;
    } finally {
      await client.close();
    }
    const viaSql = (await app.query(`SELECT ${s}.enqueue_run('etl', '{"day": "d"}', '{"m": 1}') AS id`)).rows[0].id as string;
    const runs = (await app.query(`SELECT * FROM ${s}.runs`)).rows as Row[];
    const byRun = (id: string) => runs.find((r) => r.run_id === id)!;
    const [a, b] = [byRun(viaClient), byRun(viaSql)];
    expect(Object.keys(a).length).toBeGreaterThan(8);
    for (const column of Object.keys(a)) {
      expect(a[column] === null, `runs.${column} filled alike`).toBe(b[column] === null);
      if (column !== 'run_id' && column !== 'created_at') expect(b[column], `runs.${column}`).toEqual(a[column]);
    }
    expect(b.planned_tasks).toEqual(['audit', 'extract', 'load']);

    const jobs = (await app.query(`SELECT * FROM ${s}.jobs`)).rows as Row[];
    const taskOf = new Map(jobs.map((j) => [j.job_id as string, j.task_name as string]));
    const jobsOf = (id: string) => new Map(jobs.filter((j) => j.run_id === id).map((j) => [j.task_name as string, j]));
    const [ja, jb] = [jobsOf(viaClient), jobsOf(viaSql)];
    expect([...jb.keys()].sort()).toEqual(['audit', 'extract', 'load']);
    const differ = new Set(['job_id', 'run_id', 'created_at', 'updated_at', 'run_at', 'downstream']);
    for (const [task, x] of ja) {
      const y = jb.get(task)!;
      for (const column of Object.keys(x)) {
        expect(x[column] === null, `jobs.${column} of ${task} filled alike`).toBe(y[column] === null);
        if (!differ.has(column)) expect(y[column], `jobs.${column} of ${task}`).toEqual(x[column]);
      }
      // Downstream ids name the same tasks, each within its own run.
      const names = (j: Row) => (j.downstream as string[]).map((d) => taskOf.get(d));
      expect(names(y)).toEqual(names(x));
      for (const d of y.downstream as string[]) expect(jobs.find((j) => j.job_id === d)!.run_id).toBe(viaSql);
    }
    expect(jb.get('extract')).toMatchObject({
      max_attempts: 3,
      waiting: 0,
      state: 'pending',
      attempts: 0,
      dag_name: 'etl',
      database_id: null,
    });
    expect(jb.get('load')).toMatchObject({ upstream: ['extract'], waiting: 1, max_attempts: 1 });
  });

  it('says which DAG is unknown and what there is; defaults its inputs and metadata; takes named arguments', async () => {
    const { app, s, count } = await setup();
    const err = (await app.query(`SELECT ${s}.enqueue_run('etll')`).catch((e: unknown) => e)) as pg.DatabaseError;
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      message: 'unknown DAG "etll": no DAG of that name has an active snapshot',
      code: '42704',
      hint: 'DAGs with an active snapshot: etl',
    });
    const bad = (await app.query(`SELECT ${s}.enqueue_run('etl', '{}', '[1]')`).catch((e: unknown) => e)) as pg.DatabaseError;
    expect(bad).toMatchObject({ code: '22023', message: 'the metadata of a run must be a JSON object, got [1]' });
    expect(await count('runs')).toBe(0);
    const plain = (await app.query(`SELECT ${s}.enqueue_run('etl') AS id`)).rows[0].id as string;
    const named = (await app.query(`SELECT ${s}.enqueue_run(dag => 'etl', metadata => '{"a": 1}') AS id`)).rows[0].id as string;
    const rows = (await app.query(`SELECT run_id, inputs, metadata FROM ${s}.runs ORDER BY run_id`)).rows as Row[];
    expect(Object.fromEntries(rows.map((r) => [r.run_id, [r.inputs, r.metadata]]))).toEqual({
      [plain]: [{}, {}],
      [named]: [{}, { a: 1 }],
    });
  });
});

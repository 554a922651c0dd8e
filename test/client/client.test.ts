/**
 * The client applications submit work with (`import { connect } from 'duckorch'`), against both
 * ledgers: PostgreSQL (a fresh schema) and a DuckDB file — opened by the client, or, while a
 * `duck-orch worker` holds it, reached through that worker's socket.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Project } from '../../src/app/project.js';
import { runJson } from '../../src/client/run-info.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { Ledger as LedgerPort } from '../../src/store/ledger.js';
import { RunWaitTimeoutError, connect, type Client } from '../../src/index.js';
import { DUCKDB_TEST_TIMEOUT, SUBPROCESS_TEST_TIMEOUT, startCli, tempProject } from '../helpers.js';
import { PG_START_TIMEOUT, freshSchema, pgDatabase, postgresAvailable } from '../pg.js';

/** Three tasks: `audit` and `extract` (retried twice) at the root, `load` after `extract`. */
const ETL = `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: 'extract', retries: 2 }, async (inputs: { day?: string } | null) => ({ day: inputs?.day ?? null }));
etl.task({ name: 'load', requires: ['extract'] }, async ({ extract }: { extract: { day: string | null } }) => ({ loaded: extract.day }));
etl.task({ name: 'audit' }, async () => 'ok');
`;

interface Ledger {
  /** What `connect` is given. */
  target: string;
  options: { schema?: string };
  config: Config;
}

/** A project whose DAG `etl` has an active snapshot in the ledger (`snapshot --activate`). */
async function withActiveDag(env: Record<string, string>): Promise<{ config: Config; db: string }> {
  const p = tempProject();
  const module = p.write('dags/etl.ts', ETL);
  const config = loadConfig({ env, flags: { db: p.db }, cwd: os.tmpdir() });
  const project = await Project.open({ config, access: 'create', dag: `${module}:etl`, ledgerSchema: 'migrate' });
  try {
    await project.snapshot({ activate: true });
  } finally {
    await project.close();
  }
  return { config, db: p.db };
}

async function postgresLedger(): Promise<Ledger> {
  const { url, schema } = await freshSchema();
  const { config } = await withActiveDag({ DATABASE_URL: url, DUCKORCH_PG_SCHEMA: schema });
  return { target: url, options: { schema }, config };
}

async function duckdbLedger(): Promise<Ledger> {
  const { config, db } = await withActiveDag({});
  return { target: db, options: {}, config };
}

/** Works every queued run of `etl` to its end, as `duck-orch --dag etl worker --once` does. */
async function workAll(config: Config): Promise<void> {
  const worker = await Project.open({ config, access: 'create', dag: 'etl' });
  try {
    await worker.work({ untilIdle: true, concurrency: 2 });
  } finally {
    await worker.close();
  }
}

/** Reads the ledger itself (the client closed, for a DuckDB file). */
async function readLedger<T>(config: Config, fn: (ledger: LedgerPort) => Promise<T>): Promise<T> {
  const project = await Project.open({ config, access: 'write' });
  try {
    return await fn(await project.ledger());
  } finally {
    await project.close();
  }
}

const jobsOf = (config: Config, runId: string) =>
  readLedger(config, async (l) => Object.fromEntries((await l.listJobs({ runId, limit: 10 })).map((j) => [j.task, j])));

function clientSuite(name: 'postgres' | 'duckdb', open: () => Promise<Ledger>) {
  it('enqueues runs of a DAG by name on its active snapshot, as status --json shows runs; a worker works them', async () => {
    const ledger = await open();
    let client: Client = await connect(ledger.target, ledger.options);
    expect(client.ledger).toBe(name);
    const runId = randomUUID();
    const run = await client.enqueue('etl', { day: '2026-12-01' }, { metadata: { source: 'app' }, runId: runId.toUpperCase() });
    expect(run).toMatchObject({
      id: runId,
      run_id: runId,
      state: 'queued',
      trigger: 'enqueue',
      selector: null,
      dag: 'etl',
      tasks: 3,
      jobs: { pending: 3 },
      metadata: { source: 'app' },
      started_at: null,
      finished_at: null,
      duration_ms: null,
    });
    expect(run.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await client.close();
    const { record, active } = await readLedger(ledger.config, async (l) => ({
      record: (await l.getRun(runId))!,
      active: (await l.dagSnapshots({ dag: 'etl', activeOnly: true }))[0]!,
    }));
    // The fields of `status --json`, with `id` first.
    expect(run).toEqual({ id: runId, ...runJson(record) });
    expect(run.snapshot_id).toBe(active.snapshotId);

    client = await connect(ledger.target, ledger.options);
    expect(await client.getRun(runId)).toEqual(run);
    await expect(client.enqueue('etl', null, { runId })).rejects.toMatchObject({ code: 'DUPLICATE_RUN' });
    const many = await client.enqueueMany('etl', [{ day: 'a' }, { day: 'b' }, null], { metadata: { batch: 1 } });
    expect(many.map((r) => [r.state, r.tasks, r.metadata])).toEqual([
      ['queued', 3, { batch: 1 }],
      ['queued', 3, { batch: 1 }],
      ['queued', 3, { batch: 1 }],
    ]);
    expect(new Set([runId, ...many.map((r) => r.id)]).size).toBe(4);
    expect(await client.enqueueMany('etl', [])).toEqual([]);
    expect(await client.queueDepth()).toEqual({
      pending: 12,
      processing: 0,
      succeeded: 0,
      failed: 0,
      dead: 0,
      skipped: 0,
      blocked: 0,
      cancelled: 0,
    });
    expect((await client.queueDepth({ dag: 'etl' })).pending).toBe(12);
    expect((await client.queueDepth({ dag: 'other' })).pending).toBe(0);

    // Nothing works the runs yet: the wait runs out, saying how the run was last seen.
    const timeout = await client.waitForRun(runId, { timeoutMs: 30 }).catch((err: unknown) => err);
    expect(timeout).toBeInstanceOf(RunWaitTimeoutError);
    expect(timeout).toMatchObject({ code: 'WAIT_TIMEOUT', timeoutMs: 30, run: { id: runId, state: 'queued' } });
    const cancelled = await client.cancel(many[2]!.id);
    expect(cancelled).toMatchObject({ id: many[2]!.id, state: 'cancelled', jobs: { cancelled: 3 } });
    expect(await client.waitForRun(many[2]!.id)).toEqual(cancelled);

    // Unknown names and bad values, said clearly.
    await expect(client.enqueue('etll')).rejects.toMatchObject({
      code: 'UNKNOWN_NAME',
      message: 'unknown DAG `etll`: no DAG of that name has an active snapshot',
      hint: expect.stringContaining('etl'),
    });
    await expect(client.enqueue('zzzzzz')).rejects.toMatchObject({ hint: 'DAGs with an active snapshot: `etl`' });
    const nobody = randomUUID();
    expect(await client.getRun(nobody)).toBeUndefined();
    await expect(client.waitForRun(nobody)).rejects.toMatchObject({ code: 'UNKNOWN_NAME', message: `unknown run \`${nobody}\`` });
    await expect(client.cancel(nobody)).rejects.toMatchObject({ code: 'UNKNOWN_NAME' });
    await expect(client.enqueue('etl', { n: 1n } as never)).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/^inputs\.n is a BigInt/),
    });
    await expect(client.enqueueMany('etl', [1, () => 2] as never)).rejects.toMatchObject({
      message: expect.stringMatching(/^inputs\[1\] is a function/),
    });
    await expect(client.enqueue('etl', null, { metadata: [] as never })).rejects.toMatchObject({ code: 'USAGE' });
    await expect(client.enqueue('etl', null, { runId: 'nope' })).rejects.toMatchObject({ message: 'runId must be a UUID, got `nope`' });
    await client.close();
    await expect(client.getRun(runId)).rejects.toMatchObject({ code: 'USAGE', message: 'this duck-orch client is closed' });

    // Jobs as `--dag etl enqueue` plans them: attempts from each task's own retries, upstream from the graph.
    const jobs = await jobsOf(ledger.config, runId);
    expect(
      Object.values(jobs)
        .map((j) => [j.task, j.maxAttempts, j.upstream, j.state])
        .sort(),
    ).toEqual([
      ['audit', 1, [], 'pending'],
      ['extract', 3, [], 'pending'],
      ['load', 1, ['extract'], 'pending'],
    ]);
    await workAll(ledger.config);
    client = await connect(ledger.target, ledger.options);
    try {
      expect(await client.waitForRun(runId, { timeoutMs: 0 })).toMatchObject({ state: 'succeeded', jobs: { succeeded: 3 } });
      for (const r of many.slice(0, 2)) expect((await client.getRun(r.id))!.state).toBe('succeeded');
      expect(await client.queueDepth()).toMatchObject({ pending: 0, succeeded: 9, cancelled: 3 });
    } finally {
      await client.close();
    }
    expect((await jobsOf(ledger.config, many[1]!.id)).load!.result).toEqual({ loaded: 'b' });
  });
}

describe('the client on a DuckDB file', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  clientSuite('duckdb', duckdbLedger);

  it('goes through the worker that holds the file; calls fail clearly once it is gone', async () => {
    const ledger = await duckdbLedger();
    const worker = startCli(['--db', ledger.target, '--dag', 'etl', 'worker']);
    await worker.waitForStderr(/^worker \d+ started on /);
    const client = await connect(ledger.target);
    try {
      expect(client.ledger).toBe('duckdb');
      const run = await client.enqueue('etl', { day: 'held' });
      const many = await client.enqueueMany('etl', [{ day: 'x' }, { day: 'y' }]);
      expect(await client.waitForRun(run.id, { timeoutMs: 60_000 })).toMatchObject({
        id: run.id,
        state: 'succeeded',
        jobs: { succeeded: 3 },
      });
      for (const r of many) expect((await client.waitForRun(r.id, { timeoutMs: 60_000 })).state).toBe('succeeded');
      expect(await client.getRun(run.id)).toMatchObject({ state: 'succeeded', dag: 'etl' });
      expect(await client.cancel(run.id)).toMatchObject({ state: 'succeeded' });
      expect(await client.queueDepth({ dag: 'etl' })).toMatchObject({ succeeded: 9, pending: 0 });
      await expect(client.enqueue('etll')).rejects.toMatchObject({ code: 'UNKNOWN_NAME', message: expect.stringContaining('`etll`') });
      worker.child.kill('SIGTERM');
      expect((await worker.exited).code).toBe(0);
      await expect(client.getRun(run.id)).rejects.toMatchObject({
        code: 'DB_UNAVAILABLE',
        message: expect.stringMatching(/^worker \d+, which held/),
      });
    } finally {
      await client.close();
    }
    // With the worker gone, the client opens the file itself.
    const direct = await connect(ledger.target);
    try {
      expect((await direct.queueDepth()).succeeded).toBe(9);
    } finally {
      await direct.close();
    }
  });

  it('refuses what it cannot connect to, saying what it takes', { timeout: DUCKDB_TEST_TIMEOUT }, async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await expect(connect()).rejects.toMatchObject({
        code: 'CONFIG',
        message: 'connect() was given no ledger, and DATABASE_URL is not set',
      });
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
    await expect(connect('mysql://db/x')).rejects.toMatchObject({ code: 'CONFIG', expected: expect.stringContaining('postgresql://') });
    await expect(connect(path.join(os.tmpdir(), 'nowhere', 'x.duckdb'))).rejects.toMatchObject({ code: 'DB_OPEN' });
    const { target } = await duckdbLedger();
    await expect(connect(target, { schema: 'x' })).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe.skipIf(!postgresAvailable().ok)('the client on PostgreSQL', { timeout: SUBPROCESS_TEST_TIMEOUT }, () => {
  beforeAll(() => pgDatabase(), PG_START_TIMEOUT);

  clientSuite('postgres', postgresLedger);

  it('waits for a run that a worker works meanwhile', async () => {
    const ledger = await postgresLedger();
    const client = await connect(ledger.target, ledger.options);
    try {
      const run = await client.enqueue('etl', { day: 'now' });
      const waiting = client.waitForRun(run.id, { timeoutMs: 120_000 });
      await workAll(ledger.config);
      expect(await waiting).toMatchObject({ id: run.id, state: 'succeeded' });
    } finally {
      await client.close();
    }
  });

  it('takes DATABASE_URL and the schema from the environment; refuses a schema init-db has not created', async () => {
    const ledger = await postgresLedger();
    const saved = { url: process.env.DATABASE_URL, schema: process.env.DUCKORCH_PG_SCHEMA };
    process.env.DATABASE_URL = ledger.target;
    process.env.DUCKORCH_PG_SCHEMA = ledger.options.schema!;
    try {
      const client = await connect();
      try {
        expect(client.ledger).toBe('postgres');
        expect((await client.enqueue('etl')).state).toBe('queued');
      } finally {
        await client.close();
      }
    } finally {
      for (const [key, value] of [
        ['DATABASE_URL', saved.url],
        ['DUCKORCH_PG_SCHEMA', saved.schema],
      ] as const)
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
    }
    const empty = await freshSchema();
    await expect(connect(empty.url, { schema: empty.schema })).rejects.toMatchObject({
      code: 'SCHEMA_VERSION',
      message: expect.stringContaining(`has no duck-orch ledger in schema "${empty.schema}" yet`),
      hint: expect.stringContaining('duck-orch init-db'),
    });
    await expect(connect(empty.url, { schema: 'bad-name' })).rejects.toMatchObject({
      code: 'CONFIG',
      message: 'connect() option `schema` must be a name of letters, digits and _ (not starting with a digit), got `bad-name`',
    });
  });
});

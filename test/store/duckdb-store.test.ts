import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance, listValue } from '@duckdb/node-api';
import { describe, expect, it, vi } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { peekDatabaseId } from '../../src/store/duckdb/database-identity.js';
import { DuckDbStore } from '../../src/store/duckdb/duckdb-store.js';
import { loadMigrations } from '../../src/store/duckdb/migrate.js';
import type { ClaimOptions, ClaimedJob, FailureOutcome, NewRun, SuccessOutcome } from '../../src/store/ledger.js';
import type { RegisteredTask } from '../../src/store/store.js';
import { DUCKDB_TEST_TIMEOUT, ROOT, tempProject } from '../helpers.js';
import { makeTask } from '../model/make-task.js';

async function withInstance<T>(db: string, fn: (i: DuckDBInstance) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(db);
  try {
    return await fn(instance);
  } finally {
    instance.closeSync();
  }
}

async function rows(instance: DuckDBInstance, sql: string): Promise<unknown[][]> {
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowsJS();
  } finally {
    conn.closeSync();
  }
}

function task(name: string, outputs: string[], inputs: string[] = []): RegisteredTask {
  const definition = makeTask(`-- @task name=${name}\nSELECT 1`, { writes: outputs, reads: inputs });
  return {
    definition,
    filePath: `/p/${name}.sql`,
    sourceRoot: '/p',
    registeredAt: new Date('2026-01-01T00:00:00Z'),
    fileHash: null,
    warnings: [],
  };
}

const T0 = new Date('2026-03-01T10:00:00Z');
/** `seconds` after T0: the ledger takes time as an argument, so tests use a clock of their own. */
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const CODE = 'fnv1a64:0000000000000000';
const TRICKY = 'it\'s "quoted"\n-- not a comment; DROP TABLE x; \\\' end';

function newRun(id: string, jobs: Array<[task: string, upstream: string[], maxAttempts?: number]>): NewRun {
  return {
    id,
    snapshotId: 'sha256:test',
    trigger: 'run',
    selector: null,
    inputs: null,
    jobs: jobs.map(([task, upstream, maxAttempts = 1]) => ({ task, upstream, maxAttempts })),
  };
}

const claimAt = (seconds: number): ClaimOptions => ({ worker: 'w1', limit: 10, leaseMs: 60_000, now: at(seconds) });

function success(o: Partial<SuccessOutcome>): SuccessOutcome {
  return { rows: null, result: null, watermark: null, codeVersion: CODE, assets: [], ...o };
}

function failure(error: string, assets: string[], o: Partial<FailureOutcome> = {}): FailureOutcome {
  return { error, errorContext: { kind: 'sql' }, retryable: true, retryDelayMs: 5000, assets, codeVersion: CODE, ...o };
}

/** Completes a job the way the SQL runner does: inside the open transaction of the task's data, which it commits. */
async function completeInTransaction(
  instance: DuckDBInstance,
  store: DuckDbStore,
  job: ClaimedJob,
  outcome: SuccessOutcome,
  now: Date,
  worker = 'w1',
): Promise<void> {
  const conn = await instance.connect();
  try {
    await conn.run('BEGIN TRANSACTION');
    await conn.run(`CREATE TABLE "data_${job.id}" AS SELECT 1 AS x`);
    await store.ledger.complete(job, worker, outcome, now, { connection: conn });
    expect(await rows(instance, `SELECT x FROM "data_${job.id}"`)).toEqual([[1]]);
  } finally {
    conn.closeSync();
  }
}

const SPEC_TABLES = [
  'active_dags',
  'asset_check_results',
  'asset_checks',
  'asset_edges',
  'asset_intervals',
  'asset_latest',
  'asset_materializations',
  'asset_partition_ranges',
  'asset_partitions',
  'asset_state',
  'assets',
  'attempts',
  'automation_evaluations',
  'column_lineage',
  'completion_markers',
  'dag_snapshots',
  'database_meta',
  'definitions',
  'jobs',
  'ledger_journal',
  'lineage_edges',
  'pipeline_runs',
  'schedules',
  'schema_migrations',
  'snapshot_tasks',
  'snapshots',
  'task_edges',
  'task_state',
  'tasks',
  'test_results',
  'tests',
  'watermarks',
];

describe('DuckDB store migrations', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('creates the spec tables once and is idempotent', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      await (await DuckDbStore.open(instance, 'create', p.db)).close();
      await (await DuckDbStore.open(instance, 'write', p.db)).close();
      const tables = await rows(instance, "SELECT table_name FROM duckdb_tables() WHERE schema_name = '__orch__' ORDER BY 1");
      expect(tables.map((r) => r[0])).toEqual(SPEC_TABLES);
      const views = await rows(instance, "SELECT view_name FROM duckdb_views() WHERE schema_name = '__orch__' ORDER BY 1");
      expect(views).toEqual([['runs']]);
      const applied = await rows(instance, 'SELECT id FROM __orch__.schema_migrations');
      expect(applied.map((r) => r[0])).toEqual(loadMigrations().map((m) => m.id));
    });
  });

  it('gives the database an id of its own, once, kept inside the file (a copy keeps it)', async () => {
    const p = tempProject();
    let id = '';
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db);
      id = store.databaseId;
      await store.close();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const again = await DuckDbStore.open(instance, 'write', p.db);
      expect(again.databaseId).toBe(id);
      await again.close();
    });
    const copy = path.join(path.dirname(p.db), 'elsewhere.duckdb');
    fs.copyFileSync(p.db, copy);
    expect(await peekDatabaseId(copy)).toBe(id);
    expect(await peekDatabaseId(path.join(path.dirname(p.db), 'missing.duckdb'))).toBeUndefined();
    await withInstance(path.join(path.dirname(p.db), 'other.duckdb'), async (instance) => {
      const other = await DuckDbStore.open(instance, 'create', 'other.duckdb');
      expect(other.databaseId).not.toBe(id);
      await other.close();
    });
  });

  it('refuses a database migrated by a newer duck-orch', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      await (await DuckDbStore.open(instance, 'create', p.db)).close();
      const conn = await instance.connect();
      await conn.run("INSERT INTO __orch__.schema_migrations VALUES (9999, 'future', 'x', now()::TIMESTAMP)");
      conn.closeSync();
      const err = await DuckDbStore.open(instance, 'write', p.db).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DuckorchError);
      expect((err as DuckorchError).code).toBe('SCHEMA_VERSION');
      expect((err as DuckorchError).message).toContain('newer duck-orch (schema version 9999');
    });
  });

  it('refuses a migration whose applied text differs', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      await (await DuckDbStore.open(instance, 'create', p.db)).close();
      const conn = await instance.connect();
      await conn.run("UPDATE __orch__.schema_migrations SET checksum = 'tampered' WHERE id = 1");
      conn.closeSync();
      await expect(DuckDbStore.open(instance, 'write', p.db)).rejects.toThrow(/differs from this duck-orch's copy/);
    });
  });

  it('does not create state when opened read-only', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const conn = await instance.connect();
      await conn.run('CREATE TABLE user_data AS SELECT 1 AS x');
      conn.closeSync();
    });
    const instance = await DuckDBInstance.create(p.db, { access_mode: 'READ_ONLY' });
    try {
      await expect(DuckDbStore.open(instance, 'read', p.db)).rejects.toThrow(/holds no duck-orch state yet/);
    } finally {
      instance.closeSync();
    }
  });
});

describe('DuckDB store registry and runs', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('replaces the registry atomically: a failed replacement keeps the previous one', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db);
      const first = [task('a', ['a']), task('b', ['b'], ['a'])];
      await store.replaceRegistry(
        {
          tasks: first,
          taskEdges: [{ upstream: 'a', downstream: 'b' }],
          lineageEdges: [{ src: 'a', dst: 'b', via: 'b' }],
          assets: [],
          assetEdges: [],
          assetChecks: [],
        },
        new Date(),
      );
      const broken = task('c', ['c']);
      (broken.definition as { sql: unknown }).sql = null; // violates tasks.sql NOT NULL half-way through
      await expect(
        store.replaceRegistry(
          { tasks: [task('x', ['x']), broken], taskEdges: [], lineageEdges: [], assets: [], assetEdges: [], assetChecks: [] },
          new Date(),
        ),
      ).rejects.toThrow();
      expect((await store.loadRegistry()).map((t) => t.definition.name)).toEqual(['a', 'b']);
      expect(await store.loadLineageEdges()).toEqual([{ src: 'a', dst: 'b', via: 'b' }]);
      await store.close();
    });
  });

  it('keeps the spec views over the ledger: `runs` and `asset_materializations` answer with their spec columns', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db, at(0));
      const ledger = store.ledger;
      await ledger.enqueueRun(
        newRun('p1', [
          ['a', [], 2],
          ['b', ['a']],
        ]),
        at(0),
      );
      const first = await ledger.claim(claimAt(1));
      expect(first.map((j) => j.task)).toEqual(['a']); // b waits for a
      expect((await ledger.fail(first[0]!, 'w1', failure('flaky', ['s.a', 's.a2']), at(2))).job).toMatchObject({
        state: 'failed',
        runAt: at(7),
      });
      expect(await ledger.claim(claimAt(3))).toEqual([]); // the retry is not due yet
      const [a] = await ledger.claim(claimAt(7));
      expect(a).toMatchObject({ task: 'a', attempts: 2 });
      await completeInTransaction(instance, store, a!, success({ rows: 42, watermark: '7', assets: ['s.a', 's.a2'] }), at(9));
      const [b] = await ledger.claim(claimAt(10));
      const failed = await ledger.fail(b!, 'w1', failure('boom', ['s.b']), at(11));
      expect(failed.job).toMatchObject({ task: 'b', state: 'dead', attempts: 1, error: 'boom' });
      await ledger.flush();

      const columns = async (view: string) => (await rows(instance, `DESCRIBE __orch__.${view}`)).map((r) => r[0]);
      expect((await columns('runs')).slice(0, 11)).toEqual([
        'run_id',
        'pipeline_run_id',
        'task_name',
        'started_at',
        'finished_at',
        'status',
        'rows_count',
        'error_message',
        'error_context_json',
        'retry_count',
        'last_processed_at',
      ]);
      expect((await columns('asset_materializations')).slice(0, 7)).toEqual([
        'asset_name',
        'partition_key',
        'status',
        'rows',
        'bytes',
        'code_version',
        'run_id',
      ]);
      expect(
        await rows(
          instance,
          `SELECT run_id, pipeline_run_id, task_name, started_at, finished_at, status, rows_count, error_message,
                  error_context_json::JSON->>'kind', retry_count, last_processed_at, attempts, partition_key, state
           FROM __orch__.runs ORDER BY task_name`,
        ),
      ).toEqual([
        [a!.id, 'p1', 'a', at(7), at(9), 'success', 42n, null, null, 1, '7', 2, '__default__', 'succeeded'],
        [b!.id, 'p1', 'b', at(10), at(11), 'failed', null, 'boom', 'sql', 0, null, 1, '__default__', 'dead'],
      ]);
      expect(
        await rows(
          instance,
          'SELECT asset_name, partition_key, materialized_at, job_id, run_id, rows, bytes, status FROM __orch__.asset_materializations ORDER BY 1',
        ),
      ).toEqual([
        ['s.a', '__default__', at(9), a!.id, 'p1', 42n, null, 'succeeded'],
        ['s.a2', '__default__', at(9), a!.id, 'p1', null, null, 'succeeded'],
        ['s.b', '__default__', at(11), b!.id, 'p1', null, null, 'failed'],
      ]);
      expect(await ledger.lastWatermark('a')).toBe('7');
      expect(await ledger.lastWatermark('b')).toBeNull();
      expect(await ledger.getRun('p1')).toMatchObject({
        state: 'failed',
        counts: { succeeded: 1, dead: 1 },
        startedAt: at(1),
        finishedAt: at(11),
        tasks: ['a', 'b'],
      });
      const attempts = await ledger.listAttempts([a!.id, b!.id]);
      expect(attempts.map((t) => [t.task, t.attempt, t.outcome, t.startedAt, t.finishedAt, t.error])).toEqual([
        ['a', 1, 'failed', at(1), at(2), 'flaky'],
        ['a', 2, 'succeeded', at(7), at(9), null],
        ['b', 1, 'failed', at(10), at(11), 'boom'],
      ]);
      expect((await ledger.taskStates()).map((s) => [s.name, s.status, s.lastSuccessAt])).toEqual([
        ['a', 'succeeded', at(9)],
        ['b', 'dead', null],
      ]);
      expect((await ledger.assetStates()).map((s) => [s.name, s.status, s.rows])).toEqual([
        ['s.a', 'succeeded', 42],
        ['s.a2', 'succeeded', null],
        ['s.b', 'dead', null],
      ]);
      await store.close();
    });
  });

  it('after a crash keeps a success committed with its data, and returns in-flight jobs to pending with a lost attempt', async () => {
    const p = tempProject();
    // A real crash: a process holds jobs a and b, commits a's data with its success, is inside
    // b's transaction, and is killed with SIGKILL before the ledger writes its buffered rows.
    const crash = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { DuckDBInstance } from '@duckdb/node-api';
        import { DuckDbStore } from './dist/store/duckdb/duckdb-store.js';
        const [db, t0, tricky] = process.argv.slice(1);
        const at = (s) => new Date(Date.parse(t0) + s * 1000);
        const instance = await DuckDBInstance.create(db);
        const store = await DuckDbStore.open(instance, 'create', db, at(0));
        const ledger = store.ledger;
        const job = (task, upstream) => ({ task, upstream, maxAttempts: 2 });
        await ledger.enqueueRun(
          { id: 'p1', snapshotId: 'sha256:test', trigger: 'run', selector: null, inputs: null, jobs: [job('a', []), job('b', []), job('c', ['a'])] },
          at(0),
        );
        const claimed = await ledger.claim({ worker: 'w-dead', limit: 10, leaseMs: 60000, now: at(1) });
        await ledger.flush();
        const a = claimed.find((j) => j.task === 'a');
        const tx = await instance.connect();
        await tx.run('BEGIN TRANSACTION');
        await tx.run('CREATE TABLE a AS SELECT 42 AS x');
        const outcome = { rows: 1, result: { note: tricky }, watermark: tricky, codeVersion: null, assets: ["s.a'"] };
        await ledger.complete(a, 'w-dead', outcome, at(2), { connection: tx });
        const other = await instance.connect();
        await other.run('BEGIN TRANSACTION');
        await other.run('CREATE TABLE b AS SELECT 1 AS x');
        process.stdout.write(JSON.stringify(claimed.map((j) => j.task)));
        process.kill(process.pid, 'SIGKILL');
        `,
        p.db,
        T0.toISOString(),
        TRICKY,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(crash.stderr).toBe('');
    expect(crash.signal).toBe('SIGKILL');
    expect(JSON.parse(crash.stdout)).toEqual(['a', 'b']);

    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'write', p.db, at(100));
      const ledger = store.ledger;
      const byTask = async () => Object.fromEntries((await ledger.listJobs({ runId: 'p1', limit: 10 })).map((j) => [j.task, j]));
      const jobs = await byTask();
      expect(jobs.a).toMatchObject({
        state: 'succeeded',
        attempts: 1,
        rows: 1,
        result: { note: TRICKY },
        watermark: TRICKY,
        startedAt: at(1),
        finishedAt: at(2),
        leaseOwner: null,
      });
      expect(jobs.b).toMatchObject({ state: 'pending', attempts: 0, leaseOwner: null, leaseExpiresAt: null });
      expect(jobs.c).toMatchObject({ state: 'pending', attempts: 0 });
      expect(await ledger.getRun('p1')).toMatchObject({ state: 'running', counts: { succeeded: 1, pending: 2 }, finishedAt: null });
      const attempts = await ledger.listAttempts([jobs.a!.id, jobs.b!.id]);
      expect(attempts.map((t) => [t.task, t.attempt, t.worker, t.outcome, t.startedAt, t.finishedAt])).toEqual([
        ['a', 1, 'w-dead', 'succeeded', at(1), at(2)],
        ['b', 1, 'w-dead', 'lost', at(1), at(100)],
      ]);
      expect(attempts[1]!.error).toBe('the worker holding it stopped');
      expect(await rows(instance, 'SELECT x FROM a')).toEqual([[42]]);
      expect(await rows(instance, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'b'")).toEqual([[0n]]);
      expect(await rows(instance, 'SELECT asset_name, status FROM __orch__.asset_materializations')).toEqual([["s.a'", 'succeeded']]);
      expect(await ledger.lastWatermark('a')).toBe(TRICKY);

      // The run is queued work: another worker finishes it.
      const claimed = await ledger.claim({ ...claimAt(101), worker: 'w2' });
      expect(claimed.map((j) => [j.task, j.attempts]).sort()).toEqual([
        ['b', 1],
        ['c', 1],
      ]);
      for (const j of claimed) await ledger.complete(j, 'w2', success({}), at(102));
      await store.close();
    });

    // Opening again recovers nothing twice.
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'write', p.db, at(200));
      expect(await store.ledger.getRun('p1')).toMatchObject({ state: 'succeeded', counts: { succeeded: 3 }, finishedAt: at(102) });
      expect(await rows(instance, 'SELECT outcome, count(*) FROM __orch__.attempts GROUP BY 1 ORDER BY 1')).toEqual([
        ['lost', 1n],
        ['succeeded', 3n],
      ]);
      expect(await rows(instance, 'SELECT count(*) FROM __orch__.asset_materializations')).toEqual([[1n]]);
      await store.close();
    });
  });

  it('writes the final state of a run that finishes while a batch of writes is being committed', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db, at(0));
      const ledger = store.ledger;
      await ledger.enqueueRun(newRun('p1', [['a', []]]), at(0));
      const [a] = await ledger.claim(claimAt(1));
      // The batch below records the run as running; its job completes (as a worker's would, at
      // any moment) while that batch commits.
      let finishDuringCommit: (() => Promise<void>) | undefined = () => ledger.complete(a!, 'w1', success({}), at(2));
      const run = DuckDBConnection.prototype.run;
      const spy = vi.spyOn(DuckDBConnection.prototype, 'run').mockImplementation(async function (this: DuckDBConnection, sql, ...rest) {
        if (sql === 'COMMIT' && finishDuringCommit) {
          const finish = finishDuringCommit;
          finishDuringCommit = undefined;
          await finish();
        }
        return run.call(this, sql, ...rest);
      });
      try {
        await ledger.flush();
      } finally {
        spy.mockRestore();
      }
      const recorded = () =>
        rows(instance, "SELECT state, finished_at, job_counts_json FROM __orch__.pipeline_runs WHERE pipeline_run_id = 'p1'");
      expect(finishDuringCommit).toBeUndefined();
      expect(await recorded()).toEqual([['running', null, '{"processing":1}']]);
      await ledger.flush();
      expect(await recorded()).toEqual([['succeeded', at(2), '{"succeeded":1}']]);
      await store.close();
    });
  });

  it('opens for writing without reading the history of finished runs', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db, at(0));
      await store.ledger.enqueueRun(newRun('done', [['a', []]]), at(0));
      const [a] = await store.ledger.claim(claimAt(1));
      await store.ledger.complete(a!, 'w1', success({ assets: ['s.a'] }), at(2));
      await store.ledger.enqueueRun(newRun('queued', [['b', []]]), at(3));
      await store.close();
      // Were the history read, this would fail: the finished job's result no longer parses, and
      // the views and tables over history are gone.
      await rows(
        instance,
        `UPDATE __orch__.jobs SET result_json = '{not json' WHERE pipeline_run_id = 'done';
         DROP VIEW __orch__.runs; DROP TABLE __orch__.asset_materializations; DROP TABLE __orch__.asset_state`,
      );
      const reopened = await DuckDbStore.open(instance, 'write', p.db, at(4));
      const [b] = await reopened.ledger.claim(claimAt(5));
      expect(b).toMatchObject({ task: 'b', runId: 'queued', attempts: 1 });
      await reopened.close();
    });
  });

  it('stores strings with quotes and newlines intact through the batched writes and the commit path', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db, at(0));
      const ledger = store.ledger;
      await ledger.enqueueRun(newRun(TRICKY, [["o'brien", [], 2]]), at(0));
      let [job] = await ledger.claim({ ...claimAt(1), worker: TRICKY });
      await ledger.fail(job!, TRICKY, failure(TRICKY, ["s.o'b"], { errorContext: { note: TRICKY }, retryDelayMs: 0 }), at(2));
      [job] = await ledger.claim({ ...claimAt(3), worker: TRICKY });
      await completeInTransaction(
        instance,
        store,
        job!,
        success({ result: { note: TRICKY, list: [TRICKY] }, watermark: TRICKY, assets: ["s.o'b"] }),
        at(4),
        TRICKY,
      );
      const [stored] = await ledger.listJobs({ limit: 1, task: "o'brien" });
      expect(stored).toMatchObject({ runId: TRICKY, state: 'succeeded', result: { note: TRICKY, list: [TRICKY] }, watermark: TRICKY });
      const attempts = await ledger.listAttempts([stored!.id]);
      expect(attempts.map((t) => [t.worker, t.outcome, t.error, t.errorContext])).toEqual([
        [TRICKY, 'failed', TRICKY, { note: TRICKY }],
        [TRICKY, 'succeeded', null, null],
      ]);
      expect(await ledger.lastWatermark("o'brien")).toBe(TRICKY);
      expect(await rows(instance, 'SELECT asset_name, run_id FROM __orch__.asset_materializations')).toEqual([["s.o'b", TRICKY]]);
      await store.close();
    });
  });
});

/** A run log record as duck-orch wrote it to `__orch__.run_log` up to schema version 2. */
function runLogRecord(r: {
  runId: string;
  pipelineRunId: string;
  taskName: string;
  startedAt: Date | null;
  finishedAt: Date;
  status: 'success' | 'failed' | 'skipped';
  rowsCount: number | null;
  errorMessage: string | null;
  errorContext: Record<string, unknown> | null;
  attempts: number;
  lastProcessedAt: string | null;
  codeVersion: string | null;
  assets: string[];
}): string {
  return JSON.stringify({
    run_id: r.runId,
    pipeline_run_id: r.pipelineRunId,
    task_name: r.taskName,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    status: r.status,
    rows_count: r.rowsCount,
    error_message: r.errorMessage,
    error_context_json: r.errorContext ? JSON.stringify(r.errorContext) : null,
    retry_count: Math.max(0, r.attempts - 1),
    last_processed_at: r.lastProcessedAt,
    attempts: r.attempts,
    code_version: r.codeVersion,
    assets: r.assets,
  });
}

describe('DuckDB store migration of the run history', { timeout: DUCKDB_TEST_TIMEOUT }, () => {
  it('upgrades a schema version 2 database: its run_log moves into jobs, attempts, materialisations and task state', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      // Schema version 2 as an older duck-orch left it, with the history its run code wrote.
      const conn = await instance.connect();
      await conn.run('CREATE SCHEMA __orch__');
      await conn.run(
        'CREATE TABLE __orch__.schema_migrations (id INTEGER NOT NULL, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)',
      );
      for (const m of loadMigrations().filter((m) => m.id <= 2)) {
        await conn.run(m.sql);
        await conn.run('INSERT INTO __orch__.schema_migrations VALUES ($1, $2, $3, now()::TIMESTAMP)', [m.id, m.name, m.checksum]);
      }
      const pipeline = (id: string, start: Date, end: Date, status: string, counts: [number, number, number], planned: string[]) =>
        conn.run(
          'INSERT INTO __orch__.pipeline_runs VALUES ($1, $2, NULL, $3::TIMESTAMP, $4::TIMESTAMP, $5, $6, $7, $8, $9, $10::VARCHAR[])',
          [id, 'manual', start.toISOString(), end.toISOString(), status, planned.length, ...counts, listValue(planned)],
        );
      await pipeline('p0', at(0), at(5), 'success', [1, 0, 0], ['a']);
      await pipeline('p1', at(10), at(20), 'failed', [1, 1, 1], ['a', 'b', 'c']);
      await pipeline('p2', at(30), at(31), 'interrupted', [0, 0, 1], ['a']);
      const base = { errorMessage: null, errorContext: null, lastProcessedAt: null, codeVersion: CODE, rowsCount: null };
      const log = [
        {
          ...base,
          runId: 'r0a',
          pipelineRunId: 'p0',
          taskName: 'a',
          startedAt: at(1),
          finishedAt: at(2),
          status: 'success' as const,
          rowsCount: 5,
          attempts: 1,
          lastProcessedAt: '3',
          assets: ['s.a', 's.a2'],
        },
        {
          ...base,
          runId: 'r1a',
          pipelineRunId: 'p1',
          taskName: 'a',
          startedAt: at(11),
          finishedAt: at(12),
          status: 'success' as const,
          rowsCount: 42,
          attempts: 2,
          lastProcessedAt: '7',
          assets: ['s.a', 's.a2'],
        },
        {
          ...base,
          runId: 'r1b',
          pipelineRunId: 'p1',
          taskName: 'b',
          startedAt: at(13),
          finishedAt: at(14),
          status: 'failed' as const,
          errorMessage: 'boom',
          errorContext: { kind: 'sql', line: 3 },
          attempts: 3,
          assets: ['s.b'],
        },
        {
          ...base,
          runId: 'r1c',
          pipelineRunId: 'p1',
          taskName: 'c',
          startedAt: null,
          finishedAt: at(14),
          status: 'skipped' as const,
          errorMessage: 'upstream task `b` failed',
          attempts: 0,
          codeVersion: null,
          assets: ['s.c'],
        },
        {
          ...base,
          runId: 'r2a',
          pipelineRunId: 'p2',
          taskName: 'a',
          startedAt: null,
          finishedAt: at(31),
          status: 'skipped' as const,
          errorMessage: 'interrupted: the process running this pipeline stopped',
          attempts: 0,
          codeVersion: null,
          assets: [],
        },
      ];
      await conn.run('INSERT INTO __orch__.run_log SELECT unnest($1::VARCHAR[])::JSON', [listValue(log.map(runLogRecord))]);
      expect(await rows(instance, "SELECT task_name, status, retry_count FROM __orch__.runs WHERE run_id = 'r1a'")).toEqual([
        ['a', 'success', 1],
      ]);
      conn.closeSync();

      const store = await DuckDbStore.open(instance, 'write', p.db, at(100));
      const ledger = store.ledger;
      expect((await rows(instance, 'SELECT id FROM __orch__.schema_migrations ORDER BY 1')).map((r) => r[0])).toEqual(
        loadMigrations().map((m) => m.id),
      );
      expect(
        await rows(instance, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '__orch__' AND table_name = 'run_log'"),
      ).toEqual([[0n]]);

      expect((await ledger.listRuns(10)).map((r) => [r.id, r.state, r.counts, r.tasks, r.createdAt, r.finishedAt])).toEqual([
        ['p2', 'cancelled', { succeeded: 0, dead: 0, skipped: 1 }, ['a'], at(30), at(31)],
        ['p1', 'failed', { succeeded: 1, dead: 1, skipped: 1 }, ['a', 'b', 'c'], at(10), at(20)],
        ['p0', 'succeeded', { succeeded: 1, dead: 0, skipped: 0 }, ['a'], at(0), at(5)],
      ]);
      const jobs = Object.fromEntries((await ledger.listJobs({ runId: 'p1', limit: 10 })).map((j) => [j.task, j]));
      expect(jobs.a).toMatchObject({
        id: 'r1a',
        state: 'succeeded',
        attempts: 2,
        rows: 42,
        watermark: '7',
        startedAt: at(11),
        finishedAt: at(12),
        codeVersion: CODE,
      });
      expect(jobs.b).toMatchObject({ id: 'r1b', state: 'dead', attempts: 3, error: 'boom', errorContext: { kind: 'sql', line: 3 } });
      expect(jobs.c).toMatchObject({ id: 'r1c', state: 'skipped', attempts: 0, error: 'upstream task `b` failed', startedAt: null });
      expect(
        (await ledger.listAttempts(['r0a', 'r1a', 'r1b', 'r1c', 'r2a'])).map((t) => [
          t.jobId,
          t.attempt,
          t.outcome,
          t.startedAt,
          t.finishedAt,
          t.error,
        ]),
      ).toEqual([
        ['r0a', 1, 'succeeded', at(1), at(2), null],
        ['r1a', 2, 'succeeded', at(11), at(12), null],
        ['r1b', 3, 'failed', at(13), at(14), 'boom'],
      ]);
      expect(
        await rows(
          instance,
          'SELECT asset_name, partition_key, materialized_at, job_id, run_id, rows, status FROM __orch__.asset_materializations ORDER BY 3, 1',
        ),
      ).toEqual([
        ['s.a', '__default__', at(2), 'r0a', 'p0', 5n, 'succeeded'],
        ['s.a2', '__default__', at(2), 'r0a', 'p0', null, 'succeeded'],
        ['s.a', '__default__', at(12), 'r1a', 'p1', 42n, 'succeeded'],
        ['s.a2', '__default__', at(12), 'r1a', 'p1', null, 'succeeded'],
        ['s.b', '__default__', at(14), 'r1b', 'p1', null, 'failed'],
      ]);
      expect(await rows(instance, 'SELECT task_name, state, pipeline_run_id FROM __orch__.task_state ORDER BY 1')).toEqual([
        ['a', 'skipped', 'p2'],
        ['b', 'dead', 'p1'],
        ['c', 'skipped', 'p1'],
      ]);
      expect((await ledger.taskStates()).map((s) => [s.name, s.status, s.lastSuccessAt])).toEqual([
        ['a', 'skipped', at(12)],
        ['b', 'dead', null],
        ['c', 'skipped', null],
      ]);
      expect(await rows(instance, 'SELECT asset_name, job_id FROM __orch__.asset_state ORDER BY 1')).toEqual([
        ['s.a', 'r1a'],
        ['s.a2', 'r1a'],
        ['s.b', 'r1b'],
      ]);
      expect((await ledger.assetStates()).map((s) => [s.name, s.status, s.rows])).toEqual([
        ['s.a', 'succeeded', 42],
        ['s.a2', 'succeeded', null],
        ['s.b', 'dead', null],
      ]);
      expect(await ledger.lastWatermark('a')).toBe('7');
      expect(
        await rows(
          instance,
          "SELECT run_id, status, retry_count, last_processed_at FROM __orch__.runs WHERE pipeline_run_id = 'p1' ORDER BY 1",
        ),
      ).toEqual([
        ['r1a', 'success', 1, '7'],
        ['r1b', 'failed', 2, null],
        ['r1c', 'skipped', 0, null],
      ]);

      // The migrated ledger takes new runs: their attempts follow the migrated ones.
      await ledger.enqueueRun(newRun('p3', [['a', []]]), at(101));
      const [a] = await ledger.claim(claimAt(102));
      await ledger.complete(a!, 'w1', success({ watermark: '9', assets: ['s.a'] }), at(103));
      expect(await ledger.lastWatermark('a')).toBe('9');
      await ledger.flush();
      expect(await rows(instance, 'SELECT count(*), count(DISTINCT attempt_seq) FROM __orch__.attempts')).toEqual([[4n, 4n]]);
      await store.close();
    });
  });
});

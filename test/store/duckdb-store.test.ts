import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { DuckDbStore } from '../../src/store/duckdb/duckdb-store.js';
import { loadMigrations } from '../../src/store/duckdb/migrate.js';
import type { RegisteredTask, TaskRunRecord } from '../../src/store/store.js';
import { DUCKDB_TEST_TIMEOUT, tempProject } from '../helpers.js';
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

const SPEC_TABLES = [
  'asset_check_results',
  'asset_checks',
  'asset_edges',
  'asset_intervals',
  'asset_partitions',
  'assets',
  'automation_evaluations',
  'column_lineage',
  'lineage_edges',
  'pipeline_runs',
  'run_log',
  'schedules',
  'schema_migrations',
  'task_edges',
  'tasks',
  'test_results',
  'tests',
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
      expect(views).toEqual([['asset_materializations'], ['runs']]);
      const applied = await rows(instance, 'SELECT id FROM __orch__.schema_migrations');
      expect(applied.map((r) => r[0])).toEqual(loadMigrations().map((m) => m.id));
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

  it('derives asset materialisations from runs and accounts for runs cut short by a crash', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db);
      const started = new Date('2026-03-01T10:00:00Z');
      await store.beginPipelineRun({
        id: 'p1',
        trigger: 'manual',
        selector: null,
        startedAt: started,
        finishedAt: null,
        status: 'running',
        taskCount: 3,
        succeeded: 0,
        failed: 0,
        skipped: 0,
        plannedTasks: ['a', 'b', 'c'],
      });
      const run: TaskRunRecord = {
        runId: 'r1',
        pipelineRunId: 'p1',
        taskName: 'a',
        startedAt: started,
        finishedAt: new Date('2026-03-01T10:00:01Z'),
        status: 'success',
        rowsCount: 42,
        errorMessage: null,
        errorContext: null,
        attempts: 2,
        lastProcessedAt: '7',
        codeVersion: 'fnv1a64:0000000000000000',
        assets: ['s.a', 's.a2'],
      };
      await store.recordTaskRuns([run]);
      expect(await rows(instance, 'SELECT asset_name, rows, status FROM __orch__.asset_materializations ORDER BY 1')).toEqual([
        ['s.a', 42n, 'success'],
        ['s.a2', null, 'success'],
      ]);
      expect(await store.lastWatermark('a')).toBe('7');
      expect(await rows(instance, "SELECT retry_count, attempts FROM __orch__.runs WHERE run_id = 'r1'")).toEqual([[1, 2]]);

      const recovered = await store.recoverInterruptedRuns(new Date('2026-03-01T11:00:00Z'));
      expect(recovered).toEqual({ pipelineRuns: 1, taskRuns: 2 });
      const pipeline = await store.getPipelineRun('p1');
      expect(pipeline).toMatchObject({ status: 'interrupted', succeeded: 1, skipped: 2, failed: 0 });
      const runs = await store.listTaskRuns({ limit: 10, pipelineRunId: 'p1' });
      expect(runs.map((r) => [r.taskName, r.status]).sort()).toEqual([
        ['a', 'success'],
        ['b', 'skipped'],
        ['c', 'skipped'],
      ]);
      expect(runs.find((r) => r.taskName === 'b')!.errorMessage).toContain('interrupted');
      expect(await store.recoverInterruptedRuns(new Date())).toEqual({ pipelineRuns: 0, taskRuns: 0 });
      await store.close();
    });
  });

  it('does not read the run history to recover when no run is running', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db);
      // Were the history read, this would fail: the view over it is gone.
      await rows(instance, 'DROP VIEW __orch__.asset_materializations; DROP VIEW __orch__.runs');
      expect(await store.recoverInterruptedRuns(new Date())).toEqual({ pipelineRuns: 0, taskRuns: 0 });
      await store.close();
    });
  });

  it('stores strings with quotes and newlines intact through the commit path', async () => {
    const p = tempProject();
    await withInstance(p.db, async (instance) => {
      const store = await DuckDbStore.open(instance, 'create', p.db);
      const conn = await instance.connect();
      await conn.run('BEGIN TRANSACTION');
      const tricky = 'it\'s "quoted"\n-- not a comment; DROP TABLE x; \\\' end';
      await store.commitTaskRun(
        {
          runId: 'r2',
          pipelineRunId: 'p2',
          taskName: "o'brien",
          startedAt: new Date(),
          finishedAt: new Date(),
          status: 'success',
          rowsCount: 1,
          errorMessage: tricky,
          errorContext: { note: tricky },
          attempts: 1,
          lastProcessedAt: null,
          codeVersion: null,
          assets: ["s.o'b"],
        },
        { connection: conn },
      );
      conn.closeSync();
      const [run] = await store.listTaskRuns({ limit: 1, task: "o'brien" });
      expect(run).toMatchObject({ errorMessage: tricky, errorContext: { note: tricky }, assets: ["s.o'b"] });
      await store.close();
    });
  });
});

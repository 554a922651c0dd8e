/**
 * The embedded store: state in the `__orch__` schema of the project's DuckDB file, so it is
 * queryable with plain SQL and a task's outcome commits in the same transaction as its data.
 * Bulk writes go through one `from_json` query per table rather than a statement per row.
 */
import { listValue, type DuckDBConnection, type DuckDBInstance } from '@duckdb/node-api';
import { DuckorchError, type ErrorJson } from '../../errors.js';
import type { AssetCheckRecord, AssetEdgeRecord, AssetRecord } from '../../model/assets.js';
import type { LineageEdge, TaskEdge } from '../../model/graph/dag.js';
import type { TaskDefinition, TaskTest } from '../../model/taskfile/task.js';
import { upgradeDefinition } from '../../model/taskfile/upgrade.js';
import type { AccessMode } from './database.js';
import { migrate } from './migrate.js';
import type {
  DataTransaction,
  PipelineRunRecord,
  RegisteredTask,
  RegistryChange,
  RegistrySnapshot,
  RunQuery,
  Store,
  TaskRunRecord,
  TaskRunStatus,
  TestResultRecord,
} from '../store.js';

type ColumnTypes = Record<string, string>;
type Row = Record<string, unknown>;

const TASK_COLUMNS: ColumnTypes = {
  name: 'VARCHAR',
  description: 'VARCHAR',
  owner: 'VARCHAR',
  sql: 'VARCHAR',
  inputs: 'VARCHAR[]',
  outputs: 'VARCHAR[]',
  depends_on: 'VARCHAR[]',
  schedule_cron: 'VARCHAR',
  retries: 'INTEGER',
  timeout_seconds: 'BIGINT',
  incremental_by: 'VARCHAR',
  tags: 'VARCHAR[]',
  file_path: 'VARCHAR',
  registered_at: 'TIMESTAMP',
  partitions_json: 'VARCHAR',
  params_json: 'VARCHAR',
  code_version: 'VARCHAR',
  source_root: 'VARCHAR',
  definition_json: 'VARCHAR',
  file_hash: 'VARCHAR',
  warnings_json: 'VARCHAR',
};
const TASK_EDGE_COLUMNS: ColumnTypes = { upstream: 'VARCHAR', downstream: 'VARCHAR' };
const LINEAGE_COLUMNS: ColumnTypes = {
  src_dataset: 'VARCHAR',
  dst_dataset: 'VARCHAR',
  via_task: 'VARCHAR',
  transform_type: 'VARCHAR',
  discovered_at: 'TIMESTAMP',
  source: 'VARCHAR',
};
const TEST_COLUMNS: ColumnTypes = { task_name: 'VARCHAR', test_idx: 'INTEGER', query: 'VARCHAR', assertion: 'VARCHAR' };
const ASSET_COLUMNS: ColumnTypes = {
  name: 'VARCHAR',
  kind: 'VARCHAR',
  location: 'VARCHAR',
  group_name: 'VARCHAR',
  owner: 'VARCHAR',
  description: 'VARCHAR',
  code_version: 'VARCHAR',
  defined_by_task: 'VARCHAR',
  tags: 'VARCHAR[]',
  created_at: 'TIMESTAMP',
  automation_condition: 'VARCHAR',
  target_lag_seconds: 'BIGINT',
  freshness_lag_seconds: 'BIGINT',
  interval_unit: 'VARCHAR',
  interval_start_ts: 'BIGINT',
  lookback: 'INTEGER',
  allow_partials: 'BOOLEAN',
};
const ASSET_EDGE_COLUMNS: ColumnTypes = {
  upstream_asset: 'VARCHAR',
  downstream_asset: 'VARCHAR',
  via_task: 'VARCHAR',
  edge_type: 'VARCHAR',
};
const ASSET_CHECK_COLUMNS: ColumnTypes = {
  asset_name: 'VARCHAR',
  check_name: 'VARCHAR',
  sql: 'VARCHAR',
  expect_type: 'VARCHAR',
  expect_value: 'VARCHAR',
  severity: 'VARCHAR',
};
const TEST_RESULT_COLUMNS: ColumnTypes = {
  task_name: 'VARCHAR',
  test_idx: 'INTEGER',
  pipeline_run_id: 'VARCHAR',
  executed_at: 'TIMESTAMP',
  status: 'VARCHAR',
  actual_value: 'VARCHAR',
  message: 'VARCHAR',
};

/** Rows per insert: one JSON parameter each, so a registry of 20,000 tasks is never one 50 MB string. */
const INSERT_CHUNK = 1000;

async function insertRows<T>(
  conn: DuckDBConnection,
  table: string,
  columns: ColumnTypes,
  items: readonly T[],
  toRow: (item: T) => Row,
): Promise<void> {
  const names = Object.keys(columns);
  const structure = JSON.stringify([columns]);
  const sql =
    `INSERT INTO __orch__.${table} (${names.join(', ')}) SELECT ${names.map((n) => `r.${n}`).join(', ')} ` +
    `FROM (SELECT unnest(from_json($1::JSON, '${structure}')) AS r)`;
  for (let start = 0; start < items.length; start += INSERT_CHUNK) {
    const rows = items.slice(start, start + INSERT_CHUNK).map(toRow);
    await conn.run(sql, [JSON.stringify(rows, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v))]);
  }
}

/**
 * A SQL string literal. Used only where binding would cost a round trip on the hot path (a
 * task's commit); DuckDB's standard strings have no backslash escapes, so doubling quotes is
 * complete.
 */
function stringLiteral(value: string): string {
  return `'${value.replaceAll('\u0000', '').replaceAll("'", "''")}'`;
}

async function inTransaction<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const result = await fn();
    await conn.run('COMMIT');
    return result;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

function toNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** The JSON record of a task run in `__orch__.run_log`; the `runs` view reads these keys. */
function runRecord(run: TaskRunRecord): string {
  return JSON.stringify({
    run_id: run.runId,
    pipeline_run_id: run.pipelineRunId,
    task_name: run.taskName,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    status: run.status,
    rows_count: run.rowsCount,
    error_message: run.errorMessage,
    error_context_json: run.errorContext ? JSON.stringify(run.errorContext) : null,
    retry_count: Math.max(0, run.attempts - 1),
    last_processed_at: run.lastProcessedAt,
    attempts: run.attempts,
    code_version: run.codeVersion,
    assets: run.assets,
  });
}

function fromRunRow(r: Row): TaskRunRecord {
  return {
    runId: String(r.run_id),
    pipelineRunId: String(r.pipeline_run_id),
    taskName: String(r.task_name),
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at),
    status: r.status as TaskRunStatus,
    rowsCount: toNumber(r.rows_count),
    errorMessage: (r.error_message as string | null) ?? null,
    errorContext: r.error_context_json ? (JSON.parse(String(r.error_context_json)) as Record<string, unknown>) : null,
    attempts: Number(r.attempts),
    lastProcessedAt: (r.last_processed_at as string | null) ?? null,
    codeVersion: (r.code_version as string | null) ?? null,
    assets: (r.assets as string[] | null) ?? [],
  };
}

function fromPipelineRow(r: Row): PipelineRunRecord {
  return {
    id: String(r.pipeline_run_id),
    trigger: String(r.trigger),
    selector: (r.selector as string | null) ?? null,
    startedAt: toDate(r.started_at)!,
    finishedAt: toDate(r.finished_at),
    status: r.status as PipelineRunRecord['status'],
    taskCount: Number(r.task_count),
    succeeded: Number(r.succeeded),
    failed: Number(r.failed),
    skipped: Number(r.skipped),
    plannedTasks: (r.planned_tasks as string[] | null) ?? [],
  };
}

/** How one registry table is written from a registry snapshot; rows belong to an owner (a task or an asset). */
interface TableSpec<T> {
  table: string;
  columns: ColumnTypes;
  ownerColumn: string;
  /** Whether a row belongs to a task or to an asset (asset checks). */
  ownedBy: 'task' | 'asset';
  items: (s: RegistrySnapshot) => readonly T[];
  owner: (item: T) => string;
  toRow: (item: T, now: Date) => Row;
}

const table = <T>(spec: TableSpec<T>): TableSpec<T> => spec;

const REGISTRY_TABLES = [
  table<RegisteredTask>({
    table: 'tasks',
    columns: TASK_COLUMNS,
    ownerColumn: 'name',
    ownedBy: 'task',
    items: (s) => s.tasks,
    owner: (t) => t.definition.name,
    toRow: ({ definition: t, filePath, sourceRoot, registeredAt, fileHash, warnings }) => ({
      name: t.name,
      description: t.description,
      owner: t.owner,
      sql: t.sql,
      inputs: t.inputs,
      outputs: t.outputs,
      depends_on: t.dependsOn,
      schedule_cron: t.schedule,
      retries: t.retries,
      timeout_seconds: t.timeoutSeconds,
      incremental_by: t.incrementalBy,
      tags: t.tags,
      file_path: filePath,
      registered_at: registeredAt,
      partitions_json: t.partitions ? JSON.stringify(t.partitions) : null,
      params_json: t.params.length > 0 ? JSON.stringify(t.params) : null,
      code_version: t.codeVersion,
      source_root: sourceRoot,
      definition_json: JSON.stringify(t),
      file_hash: fileHash,
      warnings_json: warnings.length > 0 ? JSON.stringify(warnings) : null,
    }),
  }),
  table<TaskEdge>({
    table: 'task_edges',
    columns: TASK_EDGE_COLUMNS,
    ownerColumn: 'downstream',
    ownedBy: 'task',
    items: (s) => s.taskEdges,
    owner: (e) => e.downstream,
    toRow: (e) => ({ upstream: e.upstream, downstream: e.downstream }),
  }),
  table<LineageEdge>({
    table: 'lineage_edges',
    columns: LINEAGE_COLUMNS,
    ownerColumn: 'via_task',
    ownedBy: 'task',
    items: (s) => s.lineageEdges,
    owner: (e) => e.via,
    toRow: (e, now) => ({
      src_dataset: e.src,
      dst_dataset: e.dst,
      via_task: e.via,
      transform_type: 'table',
      discovered_at: now,
      source: 'inferred',
    }),
  }),
  table<{ task: string; test: TaskTest }>({
    table: 'tests',
    columns: TEST_COLUMNS,
    ownerColumn: 'task_name',
    ownedBy: 'task',
    items: (s) => s.tasks.flatMap(({ definition: t }) => t.tests.map((test) => ({ task: t.name, test }))),
    owner: (t) => t.task,
    toRow: ({ task, test }) => ({ task_name: task, test_idx: test.index, query: test.sql, assertion: test.assertionText }),
  }),
  table<AssetRecord>({
    table: 'assets',
    columns: ASSET_COLUMNS,
    ownerColumn: 'defined_by_task',
    ownedBy: 'task',
    items: (s) => s.assets,
    owner: (a) => a.definedByTask,
    toRow: (a, now) => ({
      name: a.name,
      kind: a.kind,
      location: null,
      group_name: a.group,
      owner: a.owner,
      description: a.description,
      code_version: a.codeVersion,
      defined_by_task: a.definedByTask,
      tags: a.tags,
      created_at: now,
      automation_condition: a.automationCondition,
      target_lag_seconds: a.targetLagSeconds,
      freshness_lag_seconds: a.freshnessLagSeconds,
      interval_unit: a.intervalUnit,
      interval_start_ts: a.intervalStartTs,
      lookback: a.lookback,
      allow_partials: a.allowPartials,
    }),
  }),
  table<AssetEdgeRecord>({
    table: 'asset_edges',
    columns: ASSET_EDGE_COLUMNS,
    ownerColumn: 'via_task',
    ownedBy: 'task',
    items: (s) => s.assetEdges,
    owner: (e) => e.viaTask,
    toRow: (e) => ({ upstream_asset: e.upstream, downstream_asset: e.downstream, via_task: e.viaTask, edge_type: e.edgeType }),
  }),
  table<AssetCheckRecord>({
    table: 'asset_checks',
    columns: ASSET_CHECK_COLUMNS,
    ownerColumn: 'asset_name',
    ownedBy: 'asset',
    items: (s) => s.assetChecks,
    owner: (c) => c.asset,
    toRow: (c) => ({
      asset_name: c.asset,
      check_name: c.name,
      sql: c.sql,
      expect_type: c.op,
      expect_value: c.value,
      severity: c.severity,
    }),
  }),
];

export class DuckDbStore implements Store {
  readonly backend = 'duckdb' as const;
  readonly capabilities = { joinsDataTransaction: true };

  private constructor(
    readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  /** Opens the store on an instance, migrating the schema when `mode` is `write`. */
  static async open(instance: DuckDBInstance, mode: AccessMode, file: string): Promise<DuckDbStore> {
    const conn = await instance.connect();
    try {
      await migrate(conn, mode, file);
    } catch (err) {
      conn.closeSync();
      throw err;
    }
    return new DuckDbStore(instance, conn);
  }

  async loadRegistry(): Promise<RegisteredTask[]> {
    const reader = await this.conn.runAndReadAll(
      'SELECT definition_json, file_path, source_root, epoch_ms(registered_at)::DOUBLE, file_hash, warnings_json FROM __orch__.tasks ORDER BY name',
    );
    return (reader.getRows() as Array<[string, string, string, number, string | null, string | null]>).map(
      ([definition, filePath, sourceRoot, registeredAt, fileHash, warnings]) => ({
        definition: upgradeDefinition(JSON.parse(definition) as TaskDefinition),
        filePath,
        sourceRoot,
        registeredAt: new Date(registeredAt),
        fileHash,
        warnings: warnings ? (JSON.parse(warnings) as ErrorJson[]).map(DuckorchError.fromJSON) : [],
      }),
    );
  }

  async registeredTaskNames(): Promise<string[]> {
    return (await this.conn.runAndReadAll('SELECT name FROM __orch__.tasks ORDER BY name')).getRows().map((r) => String(r[0]));
  }

  async replaceRegistry(snapshot: RegistrySnapshot, now: Date, changed?: RegistryChange): Promise<void> {
    await inTransaction(this.conn, async () => {
      for (const spec of REGISTRY_TABLES) await this.replaceTable(spec as TableSpec<unknown>, snapshot, now, changed);
    });
  }

  /**
   * Rewrites one registry table: all of it, or only the rows of the tasks or assets that may
   * have changed — re-registering a large project after one edit writes a handful of rows.
   */
  private async replaceTable<T>(spec: TableSpec<T>, next: RegistrySnapshot, now: Date, changed?: RegistryChange): Promise<void> {
    const items = spec.items(next);
    if (!changed) {
      await this.conn.run(`DELETE FROM __orch__.${spec.table}`);
      await insertRows(this.conn, spec.table, spec.columns, items, (item) => spec.toRow(item, now));
      return;
    }
    const owners = spec.ownedBy === 'task' ? changed.tasks : changed.assets;
    if (owners.size === 0) return;
    await this.conn.run(`DELETE FROM __orch__.${spec.table} WHERE ${spec.ownerColumn} IN (SELECT unnest($1::VARCHAR[]))`, [
      listValue([...owners]),
    ]);
    const rows = items.filter((item) => owners.has(spec.owner(item)));
    await insertRows(this.conn, spec.table, spec.columns, rows, (item) => spec.toRow(item, now));
  }

  async loadLineageEdges(): Promise<LineageEdge[]> {
    const reader = await this.conn.runAndReadAll('SELECT src_dataset, dst_dataset, via_task FROM __orch__.lineage_edges ORDER BY 1, 2, 3');
    return reader.getRowObjectsJS().map((r) => ({ src: String(r.src_dataset), dst: String(r.dst_dataset), via: String(r.via_task) }));
  }

  async beginPipelineRun(run: PipelineRunRecord): Promise<void> {
    await this.conn.run('INSERT INTO __orch__.pipeline_runs VALUES ($1, $2, $3, $4::TIMESTAMP, NULL, $5, $6, 0, 0, 0, $7::VARCHAR[])', [
      run.id,
      run.trigger,
      run.selector,
      run.startedAt.toISOString(),
      run.status,
      run.taskCount,
      listValue(run.plannedTasks),
    ]);
  }

  async endPipelineRun(run: PipelineRunRecord): Promise<void> {
    await this.conn.run(
      'UPDATE __orch__.pipeline_runs SET finished_at = $2::TIMESTAMP, status = $3, succeeded = $4, failed = $5, skipped = $6 WHERE pipeline_run_id = $1',
      [run.id, run.finishedAt?.toISOString() ?? null, run.status, run.succeeded, run.failed, run.skipped],
    );
  }

  async recoverInterruptedRuns(now: Date): Promise<{ pipelineRuns: number; taskRuns: number }> {
    // The usual case, checked first: nothing is running, so history need not be read at all.
    const running = await this.conn.runAndReadAll("SELECT EXISTS (SELECT 1 FROM __orch__.pipeline_runs WHERE status = 'running')");
    if (running.getRows()[0]?.[0] !== true) return { pipelineRuns: 0, taskRuns: 0 };
    return inTransaction(this.conn, async () => {
      const at = now.toISOString();
      const tasks = await this.conn.run(
        `INSERT INTO __orch__.run_log
         SELECT json_object('run_id', uuid()::VARCHAR, 'pipeline_run_id', p.pipeline_run_id, 'task_name', t.task_name,
                            'finished_at', $1, 'status', 'skipped', 'error_message', $2, 'attempts', 0, 'retry_count', 0)
         FROM __orch__.pipeline_runs p, unnest(p.planned_tasks) AS t(task_name)
         WHERE p.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id AND r.task_name = t.task_name)`,
        [at, 'interrupted: the process running this pipeline stopped before the task completed; nothing it wrote was kept'],
      );
      const pipelines = await this.conn.run(
        `UPDATE __orch__.pipeline_runs p SET status = 'interrupted', finished_at = $1::TIMESTAMP,
           succeeded = (SELECT count(*) FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id AND r.status = 'success'),
           failed = (SELECT count(*) FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id AND r.status = 'failed'),
           skipped = (SELECT count(*) FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id AND r.status = 'skipped')
         WHERE status = 'running'`,
        [at],
      );
      return { pipelineRuns: pipelines.rowsChanged, taskRuns: tasks.rowsChanged };
    });
  }

  async getPipelineRun(id: string): Promise<PipelineRunRecord | undefined> {
    const reader = await this.conn.runAndReadAll('SELECT * FROM __orch__.pipeline_runs WHERE pipeline_run_id = $1', [id]);
    const row = reader.getRowObjectsJS()[0];
    return row ? fromPipelineRow(row) : undefined;
  }

  async listPipelineRuns(limit: number): Promise<PipelineRunRecord[]> {
    const reader = await this.conn.runAndReadAll('SELECT * FROM __orch__.pipeline_runs ORDER BY started_at DESC LIMIT $1', [limit]);
    return reader.getRowObjectsJS().map(fromPipelineRow);
  }

  async recordTaskRuns(runs: readonly TaskRunRecord[]): Promise<void> {
    if (runs.length === 0) return;
    await this.conn.run('INSERT INTO __orch__.run_log SELECT unnest($1::VARCHAR[])::JSON', [listValue(runs.map(runRecord))]);
  }

  async commitTaskRun(run: TaskRunRecord, tx: DataTransaction): Promise<void> {
    // One round trip: the record and the COMMIT of the task's transaction.
    await tx.connection.run(`INSERT INTO __orch__.run_log VALUES (${stringLiteral(runRecord(run))});\nCOMMIT`);
  }

  async lastWatermark(task: string): Promise<string | null> {
    const reader = await this.conn.runAndReadAll(
      `SELECT last_processed_at FROM __orch__.runs WHERE task_name = $1 AND status = 'success' AND last_processed_at IS NOT NULL
       ORDER BY finished_at DESC LIMIT 1`,
      [task],
    );
    const value = reader.getRows()[0]?.[0];
    return value === undefined || value === null ? null : String(value);
  }

  async listTaskRuns(query: RunQuery): Promise<TaskRunRecord[]> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (query.task !== undefined) where.push(`r.task_name = $${params.push(query.task)}`);
    if (query.pipelineRunId !== undefined) where.push(`r.pipeline_run_id = $${params.push(query.pipelineRunId)}`);
    if (query.status !== undefined) where.push(`r.status = $${params.push(query.status)}`);
    const limit = `$${params.push(query.limit)}`;
    const reader = await this.conn.runAndReadAll(
      `SELECT r.* FROM __orch__.runs r LEFT JOIN __orch__.pipeline_runs p USING (pipeline_run_id)
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY p.started_at DESC NULLS LAST, coalesce(r.started_at, r.finished_at) DESC NULLS LAST, r.task_name
       LIMIT ${limit}`,
      params,
    );
    return reader.getRowObjectsJS().map(fromRunRow);
  }

  async latestStatuses(): Promise<Map<string, TaskRunStatus>> {
    const reader = await this.conn.runAndReadAll(
      `SELECT r.task_name, arg_max(r.status, p.started_at) AS status
       FROM __orch__.runs r JOIN __orch__.pipeline_runs p USING (pipeline_run_id) GROUP BY r.task_name`,
    );
    return new Map(reader.getRowObjectsJS().map((r) => [String(r.task_name), r.status as TaskRunStatus]));
  }

  async recordTestResults(results: readonly TestResultRecord[]): Promise<void> {
    await insertRows(this.conn, 'test_results', TEST_RESULT_COLUMNS, results, (r) => ({
      task_name: r.taskName,
      test_idx: r.testIndex,
      pipeline_run_id: r.pipelineRunId,
      executed_at: r.executedAt,
      status: r.status,
      actual_value: r.actual,
      message: r.message,
    }));
  }

  async close(): Promise<void> {
    this.conn.closeSync();
  }
}

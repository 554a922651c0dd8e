/**
 * The embedded store: state in the `__orch__` schema of the project's DuckDB file, so it is
 * queryable with plain SQL and a task's outcome commits in the same transaction as its data.
 * Bulk writes go through one `from_json` query per table rather than a statement per row.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { listValue } from '../../duckdb-api.js';
import { DuckorchError, type ErrorJson } from '../../errors.js';
import type { AssetCheckRecord, AssetEdgeRecord, AssetRecord } from '../../model/assets.js';
import type { LineageEdge, TaskEdge } from '../../model/graph/dag.js';
import type { TaskDefinition, TaskTest } from '../../model/taskfile/task.js';
import { definitionHash, rememberDefinitionHash } from '../../model/jobs/snapshot.js';
import { upgradeDefinition } from '../../model/taskfile/upgrade.js';
import type { AccessMode } from './database.js';
import { readDatabaseId } from './database-identity.js';
import { DuckDbLedger } from './duckdb-ledger.js';
import { migrate, type Migrated } from './migrate.js';
import { ABSOLUTE_STORED_PATH, RegistryPaths } from './registry-paths.js';
import type { Row } from '../rows.js';
import { inTransaction, insertRows, type ColumnTypes } from './sql-util.js';
import type { Ledger } from '../ledger.js';
import type { RegisteredTask, RegistryChange, RegistrySnapshot, Store, TestResultRecord } from '../store.js';

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
  definition_hash: 'VARCHAR',
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

/** What every row of one registry write shares. */
interface RowContext {
  now: Date;
  paths: RegistryPaths;
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
  toRow: (item: T, context: RowContext) => Row;
  /** Rows written by an older duck-orch that any write rewrites, changed or not (SQL selecting their owners). */
  outdated?: string;
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
    toRow: ({ definition: t, filePath, sourceRoot, registeredAt, fileHash, warnings }, { paths }) => ({
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
      file_path: paths.toStored(filePath),
      registered_at: registeredAt,
      partitions_json: t.partitions ? JSON.stringify(t.partitions) : null,
      params_json: t.params.length > 0 ? JSON.stringify(t.params) : null,
      code_version: t.codeVersion,
      source_root: paths.toStored(sourceRoot),
      definition_json: JSON.stringify(t),
      file_hash: fileHash,
      warnings_json: warnings.length > 0 ? JSON.stringify(warnings) : null,
      definition_hash: definitionHash(t),
    }),
    // Written before paths were relative to the database's folder, or before definitions' hashes were kept.
    outdated:
      `SELECT name FROM __orch__.tasks WHERE definition_hash IS NULL ` +
      `OR regexp_matches(file_path, '${ABSOLUTE_STORED_PATH}') OR regexp_matches(source_root, '${ABSOLUTE_STORED_PATH}')`,
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
    toRow: (e, { now }) => ({
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
    toRow: (a, { now }) => ({
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

  private constructor(
    readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    readonly ledger: Ledger,
    readonly databaseId: string,
    private readonly ledgerConns: readonly DuckDBConnection[],
    private readonly closeLedger: () => Promise<void>,
    /** What opening it migrated (nothing when opened to read). */
    readonly migrated: Migrated,
    private readonly paths: RegistryPaths,
  ) {}

  /**
   * Opens the store on an instance, migrating the schema unless `mode` is `read`; a writer also
   * recovers what a process that died left behind (see `DuckDbLedger`).
   */
  static async open(
    instance: DuckDBInstance,
    mode: AccessMode,
    file: string,
    now = new Date(),
    shared?: { ledger: Ledger; close: () => Promise<void> },
    /** Jobs of a large run of independent jobs kept in memory at a time (see `ActiveRun.page`). */
    queuePage?: number,
  ): Promise<DuckDbStore> {
    const conn = await instance.connect();
    const ledgerConns: DuckDBConnection[] = [];
    try {
      const migrated = await migrate(conn, mode, file);
      const databaseId = await readDatabaseId(conn);
      if (databaseId === undefined)
        throw new DuckorchError('SCHEMA_VERSION', `${file} has no database id`, {
          hint: 'open it once with a command that writes (e.g. `duck-orch register <dir>`)',
        });
      const paths = RegistryPaths.ofDatabase(file);
      if (shared) return new DuckDbStore(instance, conn, shared.ledger, databaseId, [], shared.close, migrated, paths);
      ledgerConns.push(await instance.connect(), await instance.connect());
      const ledger = await DuckDbLedger.open(ledgerConns[0]!, ledgerConns[1]!, {
        recover: mode !== 'read',
        now,
        ...(queuePage !== undefined ? { pageSize: queuePage } : {}),
      });
      return new DuckDbStore(instance, conn, ledger, databaseId, ledgerConns, async () => undefined, migrated, paths);
    } catch (err) {
      for (const c of ledgerConns) c.closeSync();
      conn.closeSync();
      throw err;
    }
  }

  async loadRegistry(): Promise<RegisteredTask[]> {
    // DuckDB writes the rows as JSON text, a thousand tasks to a text, parsed in one go: turning
    // 19,000 rows of seven columns into JavaScript values one value at a time costs more.
    const reader = await this.conn.runAndReadAll(
      `SELECT string_agg(
                '[' || definition_json || ',' || to_json(file_path) || ',' || to_json(source_root) || ',' ||
                coalesce(epoch_ms(registered_at)::VARCHAR, 'null') || ',' || coalesce(to_json(file_hash), 'null') || ',' ||
                coalesce(warnings_json, 'null') || ',' || coalesce(to_json(definition_hash), 'null') || ']',
                ',' ORDER BY name)
       FROM (SELECT *, (row_number() OVER (ORDER BY name) - 1) // 1000 AS chunk FROM __orch__.tasks)
       GROUP BY chunk ORDER BY chunk`,
    );
    const out: RegisteredTask[] = [];
    for (const [text] of reader.getRows() as Array<[string]>) {
      const rows = JSON.parse(`[${text}]`) as Array<
        [TaskDefinition, string, string, number, string | null, ErrorJson[] | null, string | null]
      >;
      for (const [stored, filePath, sourceRoot, registeredAt, fileHash, warnings, hash] of rows) {
        const definition = upgradeDefinition(stored);
        // The hash of the definition as stored; one that had to be completed hashes anew.
        if (hash !== null && definition === stored) rememberDefinitionHash(definition, hash);
        out.push({
          definition,
          filePath: this.paths.fromStored(filePath),
          sourceRoot: this.paths.fromStored(sourceRoot),
          registeredAt: new Date(registeredAt),
          fileHash,
          warnings: warnings ? warnings.map(DuckorchError.fromJSON) : [],
        });
      }
    }
    return out;
  }

  async registeredTaskNames(): Promise<string[]> {
    return (await this.conn.runAndReadAll('SELECT name FROM __orch__.tasks ORDER BY name')).getRows().map((r) => String(r[0]));
  }

  async replaceRegistry(snapshot: RegistrySnapshot, now: Date, changed?: RegistryChange): Promise<void> {
    const context = { now, paths: this.paths };
    await inTransaction(this.conn, async () => {
      for (const spec of REGISTRY_TABLES) await this.replaceTable(spec as TableSpec<unknown>, snapshot, context, changed);
    });
  }

  /**
   * Rewrites one registry table: all of it, or only the rows of the tasks or assets that may
   * have changed — re-registering a large project after one edit writes a handful of rows.
   */
  private async replaceTable<T>(spec: TableSpec<T>, next: RegistrySnapshot, context: RowContext, changed?: RegistryChange): Promise<void> {
    const items = spec.items(next);
    if (!changed) {
      await this.conn.run(`DELETE FROM __orch__.${spec.table}`);
      await insertRows(this.conn, spec.table, spec.columns, items, (item) => spec.toRow(item, context));
      return;
    }
    let owners = spec.ownedBy === 'task' ? changed.tasks : changed.assets;
    if (spec.outdated) {
      const outdated = (await this.conn.runAndReadAll(spec.outdated)).getRows().map((r) => String(r[0]));
      if (outdated.length > 0) owners = new Set([...owners, ...outdated]);
    }
    if (owners.size === 0) return;
    await this.conn.run(`DELETE FROM __orch__.${spec.table} WHERE ${spec.ownerColumn} IN (SELECT unnest($1::VARCHAR[]))`, [
      listValue([...owners]),
    ]);
    const rows = items.filter((item) => owners.has(spec.owner(item)));
    await insertRows(this.conn, spec.table, spec.columns, rows, (item) => spec.toRow(item, context));
  }

  async loadLineageEdges(): Promise<LineageEdge[]> {
    const reader = await this.conn.runAndReadAll('SELECT src_dataset, dst_dataset, via_task FROM __orch__.lineage_edges ORDER BY 1, 2, 3');
    return reader.getRowObjectsJS().map((r) => ({ src: String(r.src_dataset), dst: String(r.dst_dataset), via: String(r.via_task) }));
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
    await this.ledger.flush();
    for (const c of this.ledgerConns) c.closeSync();
    await this.closeLedger();
    this.conn.closeSync();
  }
}

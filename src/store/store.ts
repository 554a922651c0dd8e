/**
 * The one port in front of orchestration state. The embedded DuckDB store keeps state in the
 * `__orch__` schema of the project's own database file; a PostgreSQL store will implement the
 * same interface for many workers on many machines. Nothing outside `store/` writes SQL
 * about state.
 *
 * Glossary: a *pipeline run* is one `run` invocation over a selection of tasks; a *task run*
 * (`__orch__.runs` row) is one task's execution within it, across its retry attempts.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckorchError } from '../errors.js';
import type { LineageEdge, TaskEdge } from '../model/graph/dag.js';
import type { AssetCheckRecord, AssetEdgeRecord, AssetRecord } from '../model/assets.js';
import type { TaskDefinition } from '../model/taskfile/task.js';

export interface StoreCapabilities {
  /**
   * The store lives in the data database and can write a task's outcome inside the task's own
   * transaction, so state and data commit together.
   */
  readonly joinsDataTransaction: boolean;
}

/** The task's open DuckDB transaction, which a store with `joinsDataTransaction` writes through and commits. */
export interface DataTransaction {
  readonly connection: DuckDBConnection;
}

export interface RegisteredTask {
  definition: TaskDefinition;
  /** Absolute path of the task file. */
  filePath: string;
  /** Absolute path of the directory it was registered from. */
  sourceRoot: string;
  registeredAt: Date;
  /** Hash of the file content it was analysed from (null when registered by an older version). */
  fileHash: string | null;
  /** The file's warnings when it was analysed, shown again while it is reused unchanged. */
  warnings: DuckorchError[];
}

export interface RegistrySnapshot {
  tasks: RegisteredTask[];
  taskEdges: readonly TaskEdge[];
  lineageEdges: readonly LineageEdge[];
  assets: AssetRecord[];
  assetEdges: AssetEdgeRecord[];
  assetChecks: AssetCheckRecord[];
}

/** The tasks and assets whose registry rows may differ from what is stored (a superset is fine). */
export interface RegistryChange {
  tasks: ReadonlySet<string>;
  assets: ReadonlySet<string>;
}

export type PipelineRunStatus = 'running' | 'success' | 'failed' | 'interrupted';
export type TaskRunStatus = 'running' | 'success' | 'failed' | 'skipped';

export interface PipelineRunRecord {
  id: string;
  trigger: string;
  selector: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  status: PipelineRunStatus;
  taskCount: number;
  succeeded: number;
  failed: number;
  skipped: number;
  plannedTasks: string[];
}

export interface TaskRunRecord {
  runId: string;
  pipelineRunId: string;
  taskName: string;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: TaskRunStatus;
  rowsCount: number | null;
  errorMessage: string | null;
  errorContext: Record<string, unknown> | null;
  attempts: number;
  lastProcessedAt: string | null;
  codeVersion: string | null;
  /** The assets the run materialises, primary first (`__orch__.asset_materializations` derives from them). */
  assets: string[];
}

export interface TestResultRecord {
  taskName: string;
  testIndex: number;
  pipelineRunId: string | null;
  executedAt: Date;
  status: 'pass' | 'fail' | 'error';
  actual: string | null;
  message: string;
}

export interface RunQuery {
  limit: number;
  task?: string;
  pipelineRunId?: string;
  status?: TaskRunStatus;
}

export interface Store {
  readonly backend: 'duckdb' | 'postgres';
  readonly capabilities: StoreCapabilities;

  loadRegistry(): Promise<RegisteredTask[]>;
  /** The names of the registered tasks, without loading their definitions. */
  registeredTaskNames(): Promise<string[]>;
  /**
   * Replaces the whole registry (tasks, edges, tests, assets, checks) atomically. Given what
   * changed since the registry it replaces, only the rows of those tasks and assets are written.
   */
  replaceRegistry(snapshot: RegistrySnapshot, now: Date, changed?: RegistryChange): Promise<void>;
  loadLineageEdges(): Promise<LineageEdge[]>;

  beginPipelineRun(run: PipelineRunRecord): Promise<void>;
  endPipelineRun(run: PipelineRunRecord): Promise<void>;
  /**
   * Accounts for pipeline runs left `running` by a process that died: the run becomes
   * `interrupted`, and each planned task without an outcome is recorded as `skipped`.
   */
  recoverInterruptedRuns(now: Date): Promise<{ pipelineRuns: number; taskRuns: number }>;
  getPipelineRun(id: string): Promise<PipelineRunRecord | undefined>;
  listPipelineRuns(limit: number): Promise<PipelineRunRecord[]>;

  /** Records finished task runs in one transaction of the store's own. */
  recordTaskRuns(runs: readonly TaskRunRecord[]): Promise<void>;
  /**
   * Records a successful task run inside the task's own open transaction and commits it, so the
   * data and the record of it become durable together. Only when `capabilities.joinsDataTransaction`.
   */
  commitTaskRun(run: TaskRunRecord, tx: DataTransaction): Promise<void>;
  lastWatermark(task: string): Promise<string | null>;
  listTaskRuns(query: RunQuery): Promise<TaskRunRecord[]>;
  /** Latest task-run status of every task that has run. */
  latestStatuses(): Promise<Map<string, TaskRunStatus>>;

  recordTestResults(results: readonly TestResultRecord[]): Promise<void>;

  close(): Promise<void>;
}

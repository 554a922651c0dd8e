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

/** The task's open DuckDB transaction, which a store with `joinsDataTransaction` writes through. */
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
}

export interface RegistrySnapshot {
  tasks: RegisteredTask[];
  taskEdges: readonly TaskEdge[];
  lineageEdges: readonly LineageEdge[];
  assets: AssetRecord[];
  assetEdges: AssetEdgeRecord[];
  assetChecks: AssetCheckRecord[];
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
}

export interface MaterializationRecord {
  asset: string;
  runId: string;
  at: Date;
  rows: number | null;
  status: 'success' | 'failed';
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
  /** Replaces the whole registry (tasks, edges, tests, assets, checks) atomically. */
  replaceRegistry(snapshot: RegistrySnapshot, now: Date): Promise<void>;
  loadLineageEdges(): Promise<LineageEdge[]>;

  beginPipelineRun(run: PipelineRunRecord): Promise<void>;
  endPipelineRun(run: PipelineRunRecord): Promise<void>;
  /** Marks pipeline and task runs left `running` by a process that died as `interrupted`/`failed`. */
  recoverInterruptedRuns(now: Date): Promise<{ pipelineRuns: number; taskRuns: number }>;
  getPipelineRun(id: string): Promise<PipelineRunRecord | undefined>;
  listPipelineRuns(limit: number): Promise<PipelineRunRecord[]>;

  /** Inserts task runs as given (e.g. `running` at start, `skipped` for tasks that never ran). */
  insertTaskRuns(runs: readonly TaskRunRecord[]): Promise<void>;
  /** Writes a task run's final state and materialisations, inside `tx` when the store can. */
  finishTaskRun(run: TaskRunRecord, materializations: readonly MaterializationRecord[], tx?: DataTransaction): Promise<void>;
  lastWatermark(task: string): Promise<string | null>;
  listTaskRuns(query: RunQuery): Promise<TaskRunRecord[]>;
  /** Latest task-run status of every task that has run. */
  latestStatuses(): Promise<Map<string, TaskRunStatus>>;

  recordTestResults(results: readonly TestResultRecord[]): Promise<void>;

  close(): Promise<void>;
}

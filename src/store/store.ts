/**
 * The one port in front of orchestration state. The embedded DuckDB store keeps state in the
 * `__orch__` schema of the project's own database file; a PostgreSQL store will implement the
 * same interface for many workers on many machines. Nothing outside `store/` writes SQL
 * about state.
 *
 * The registry (the current definitions) and test results live here; runs, jobs and their
 * history behind `ledger` (see `ledger.ts`).
 */
import type { DuckorchError } from '../errors.js';
import type { LineageEdge, TaskEdge } from '../model/graph/dag.js';
import type { AssetCheckRecord, AssetEdgeRecord, AssetRecord } from '../model/assets.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { Ledger } from './ledger.js';

export interface RegisteredTask {
  definition: TaskDefinition;
  /**
   * Absolute path of the task file, symlinks resolved. Stored relative to the database file's
   * folder, so that a project moved or copied with its database still knows its tasks.
   */
  filePath: string;
  /** Absolute path of the directory it was registered from (stored as `filePath` is). */
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

export interface TestResultRecord {
  taskName: string;
  testIndex: number;
  pipelineRunId: string | null;
  executedAt: Date;
  status: 'pass' | 'fail' | 'error';
  actual: string | null;
  message: string;
}

export interface Store {
  readonly backend: 'duckdb' | 'postgres';
  /** The id kept inside the project's DuckDB file: what a shared ledger knows the database by. */
  readonly databaseId: string;
  /** Runs, jobs, attempts and the history they make. */
  readonly ledger: Ledger;

  loadRegistry(): Promise<RegisteredTask[]>;
  /** The names of the registered tasks, without loading their definitions. */
  registeredTaskNames(): Promise<string[]>;
  /**
   * Replaces the whole registry (tasks, edges, tests, assets, checks) atomically. Given what
   * changed since the registry it replaces, only the rows of those tasks and assets are written.
   */
  replaceRegistry(snapshot: RegistrySnapshot, now: Date, changed?: RegistryChange): Promise<void>;
  loadLineageEdges(): Promise<LineageEdge[]>;

  recordTestResults(results: readonly TestResultRecord[]): Promise<void>;

  close(): Promise<void>;
}

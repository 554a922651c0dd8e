/** What a worker loop is given (`work`) and what it tells: its options, its events, the runners it calls. */
import type { DuckDBInstance } from '@duckdb/node-api';
import type { RetryPolicy } from '../model/retry.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { ClaimedJob, JobRecord, JsonValue, Ledger } from '../store/ledger.js';
import type { DataTransaction } from '../store/ledger.js';

export type RunEvent =
  | { type: 'start'; task: string; attempt: number }
  | { type: 'retry'; task: string; attempt: number; delayMs: number; error: string }
  /** The job ran and ended: succeeded, dead or cancelled. */
  | { type: 'finish'; task: string; job: JobRecord }
  /** The job ended without running: skipped, blocked or cancelled. */
  | { type: 'skip'; task: string; job: JobRecord }
  /** A job whose data an earlier attempt committed, recorded from its completion marker without running again. */
  | { type: 'recovered'; task: string; attempt: number }
  /** A job given back to the queue unharmed (the worker shutting down, or its database lease lost). */
  | { type: 'release'; task: string; reason: string }
  /** A TypeScript task's `ctx.log`. */
  | { type: 'log'; task: string; message: string };

/** Runs one attempt of a function task; the TypeScript task runtime provides it. */
export type FunctionRunner = (options: {
  job: ClaimedJob;
  task: TaskDefinition;
  inputs: JsonValue;
  /** The database an asset writes (undefined when the worker holds none: a Dag task needs none). */
  instance: DuckDBInstance | undefined;
  timeoutMs: number | null;
  signal: AbortSignal;
  log: (message: string) => void;
  commit: (result: JsonValue, tx: DataTransaction) => Promise<void>;
}) => Promise<{ result: JsonValue; committed: boolean }>;

/**
 * The DuckDB database of a worker on a shared ledger: held only while the worker holds its
 * lease (see `app/database-lease.ts`), so it may come and go while the worker runs.
 */
export interface DatabaseSlot {
  /** The databases whose jobs may be claimed now. */
  held(): ReadonlySet<string>;
  /** Database `id`, kept open for one job until `release`; undefined when it is not held (any more). */
  use(id: string): { instance: DuckDBInstance; release: () => void } | undefined;
  /** Calls `listener` when a database is taken: its jobs became claimable here (nobody notifies that). */
  onChange?(listener: () => void): void;
}

export interface WorkerOptions {
  ledger: Ledger;
  /** The project's database, open for the whole loop; or, on a shared ledger, `databases`. */
  instance?: DuckDBInstance;
  /** On a shared ledger: only jobs of the databases this worker holds, besides jobs of none. */
  databases?: DatabaseSlot;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  retry: RetryPolicy;
  clock: () => Date;
  random: () => number;
  /** The definition a job runs, from its run's snapshot; undefined when the task is no longer defined. */
  definition: (job: ClaimedJob) => Promise<TaskDefinition | { missing: string }>;
  functions?: FunctionRunner;
  /** Work only this run, and return once nothing of it is left to do. */
  runId?: string;
  /** Return once nothing is in flight or waiting to run. */
  untilIdle?: boolean;
  /** Only jobs of these tasks. */
  tasks?: ReadonlySet<string>;
  /** Only jobs of this DAG's runs; null: only runs of no DAG. Absent: any run. */
  dag?: string | null;
  /** How long an attempt of a task that sets no timeout may take (`orch_task_timeout`); absent: no limit. */
  defaultTimeoutMs?: number;
  /** Attempts of a task that sets no retries (`orch_max_attempts`); absent: as recorded when its run was enqueued. */
  maxAttempts?: number;
  /** Cancels: in-flight attempts are interrupted and their jobs end `cancelled`. */
  signal?: AbortSignal;
  /** Stops claiming; in-flight jobs get `graceMs` to finish, then go back to the ledger unharmed. */
  shutdown?: AbortSignal;
  graceMs?: number;
  /** How often an idle worker looks for new jobs when nothing wakes it sooner. */
  pollMs?: number;
  /**
   * Most jobs claimed ahead of the free slots, started as soon as a slot frees: with a ledger a
   * round trip away, the next jobs are at hand while the last ones' completions and the next
   * claim are on their way. Only while the jobs run are short (`SHORT_JOB_MS`), and only as many
   * as the slots run in a few round trips (at least one per slot). 0 (the default) claims for
   * free slots only.
   */
  prefetch?: number;
  onEvent?: (event: RunEvent) => void;
  /** Lines for the worker's log that are not about one job (the ledger's connection lost and back). */
  onNotice?: (message: string) => void;
  /** Ignore recorded `@incremental_by` watermarks. */
  fullRefresh?: boolean;
}

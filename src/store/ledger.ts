/**
 * The ledger port: runs, their jobs and every attempt, as the runtime's workers and the reads of
 * `status`, history and the automation engine need them. Two implementations keep the same
 * contract (held to it by one conformance suite): the embedded DuckDB ledger and the PostgreSQL
 * one. The job states and their transitions are `model/jobs/job-state.ts`.
 *
 * Vocabulary: a *run* is one requested execution bound to one snapshot of the definitions; a
 * *job* is one (run, task, partition) unit; an *attempt* is one try of a job by one worker.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { JobState, RunState } from '../model/jobs/job-state.js';
import type { JsonValue } from '../model/json.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { DuckorchError } from '../errors.js';

/** The task's open DuckDB transaction: the ledger records a success through it (or after it) and commits it. */
export interface DataTransaction {
  readonly connection: DuckDBConnection;
  /** Statements that must commit with the data, sent together with the ledger's record and the COMMIT (a watermark). */
  readonly beforeCommit?: readonly string[];
}

export type { JsonValue };

export { DEFAULT_PARTITION } from '../model/jobs/job-state.js';

/** An immutable, content-addressed set of definitions that runs are planned from. */
export interface Snapshot {
  /** `sha256:` of the tasks' names and definition hashes: equal definitions give the same id. */
  id: string;
  createdAt: Date;
  tasks: ReadonlyMap<string, SnapshotTask>;
}

export interface SnapshotTask {
  definition: TaskDefinition;
  /** Content hash of the definition. */
  hash: string;
  /** Upstream task names in the snapshot's graph. */
  upstream: readonly string[];
}

export interface NewJob {
  task: string;
  partitionKey?: string;
  /** Upstream tasks *of this run* whose jobs must finish first. */
  upstream: readonly string[];
  maxAttempts: number;
  /**
   * The id of the DuckDB database whose data the job writes (SQL tasks and assets); absent for
   * jobs that touch no database (Dag function tasks). With a shared ledger only the worker
   * holding that database's lease claims the job.
   */
  database?: string;
}

export interface NewRun {
  id: string;
  snapshotId: string;
  /** What asked for it: `run`, `enqueue`, `retry`, later `backfill`, `automation`, … */
  trigger: string;
  /** The selection as the user wrote it, for history. */
  selector: string | null;
  /** The payload root tasks receive (function tasks). */
  inputs: JsonValue;
  jobs: readonly NewJob[];
  /** The DAG it runs (`--dag`): only that DAG's workers claim its jobs. Null or absent: the registry's tasks. */
  dag?: string | null;
  /** The caller's annotations (`enqueue --metadata`), kept with the run. */
  metadata?: RunMetadata;
  /** For a run of the registry: the id of the database whose registry it was planned from. */
  database?: string;
}

export type RunMetadata = { [key: string]: JsonValue };

export interface RunRecord {
  id: string;
  snapshotId: string | null;
  trigger: string;
  selector: string | null;
  inputs: JsonValue;
  state: RunState;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Jobs per state. */
  counts: Partial<Record<JobState, number>>;
  /** The tasks it plans, in enqueue order. */
  tasks: string[];
  dag: string | null;
  metadata: RunMetadata;
}

export interface JobRecord {
  id: string;
  runId: string;
  task: string;
  partitionKey: string;
  state: JobState;
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  rows: number | null;
  result: JsonValue;
  watermark: string | null;
  error: string | null;
  errorContext: Record<string, unknown> | null;
  codeVersion: string | null;
  upstream: string[];
  /** Cancelled while it runs: its worker stops it, and the job ends `cancelled` (see `model/jobs/job-state.ts`). */
  cancelRequested: boolean;
}

/** What a worker's heartbeat learns of the jobs it runs. */
export interface HeartbeatResult {
  /** No longer held by this worker (taken over, or gone): drop them without a word. */
  lost: string[];
  /** Cancelled while they run: stop them, and record them as cancelled. */
  cancelled: string[];
}

/** A job a worker now holds: the ledger's record plus what the runner needs to execute it. */
export interface ClaimedJob extends JobRecord {
  snapshotId: string;
  runInputs: JsonValue;
  /** The DuckDB database the job writes (see `NewJob.database`); null when none, and in the embedded ledger. */
  database: string | null;
}

export type AttemptOutcome = 'succeeded' | 'failed' | 'released' | 'lost' | 'cancelled';

export interface AttemptRecord {
  jobId: string;
  runId: string;
  task: string;
  partitionKey: string;
  attempt: number;
  worker: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: AttemptOutcome;
  error: string | null;
  errorContext: Record<string, unknown> | null;
}

export interface SuccessOutcome {
  rows: number | null;
  result: JsonValue;
  watermark: string | null;
  codeVersion: string | null;
  /** Materialised assets, primary first. */
  assets: readonly string[];
}

export interface Completion {
  job: ClaimedJob;
  outcome: SuccessOutcome;
}

export interface FailureOutcome {
  error: string;
  errorContext: Record<string, unknown> | null;
  /** False for failures retrying would only repeat: the job is dead at once. */
  retryable: boolean;
  /** Drawn by the caller (backoff with jitter) for when attempts are left. */
  retryDelayMs: number;
  /** A cancelled attempt: the job becomes `cancelled`, not failed. */
  cancelled?: boolean;
  /** The attempts the job gets, as the worker decided them (see `model/retry.ts` attemptsAllowed); absent: as enqueued. */
  maxAttempts?: number;
  /** The assets the job would have materialised (their materialisation is recorded as failed when the job is dead). */
  assets: readonly string[];
  codeVersion: string | null;
}

export interface ClaimOptions {
  worker: string;
  limit: number;
  leaseMs: number;
  now: Date;
  /** Only jobs of this run (`duck-orch run` works its own run). */
  runId?: string;
  /** Only jobs of these tasks (a worker for one `--dag`). */
  tasks?: ReadonlySet<string>;
  /** Only jobs of this DAG's runs; null: only runs of no DAG (the registry's). Absent: any run. */
  dag?: string | null;
  /**
   * Only jobs of these databases, besides jobs of none (a worker of a shared ledger passes the
   * databases whose lease it holds). Omitted: every job (the embedded ledger is one database).
   */
  databases?: ReadonlySet<string>;
}

/** What `nextDue` looks at: the jobs a `claim` with these options could take. */
export type DueFilter = Pick<ClaimOptions, 'runId' | 'tasks' | 'dag' | 'databases'>;

/** Who holds a database's lease (see `Ledger.holdDatabase`). */
export interface DatabaseLease {
  database: string;
  worker: string;
  expiresAt: Date;
}

/**
 * The latest state of one asset (or task) in one partition. Kept narrow on purpose: reading
 * 10,000 partitions costs per column (the job, run and code version of each are in `jobs`).
 */
export interface PartitionState {
  name: string;
  partitionKey: string;
  status: JobState;
  at: Date;
  lastSuccessAt: Date | null;
  rows: number | null;
  /** The code version of the job that last changed it. */
  codeVersion: string | null;
}

export interface RetryFilter {
  states: ReadonlyArray<'dead' | 'failed'>;
  task?: string;
  /** Only jobs that ended at or after this time. */
  since?: Date;
  minAttempts?: number;
  /** Only jobs of this DAG's runs. */
  dag?: string;
  /** List the jobs that would be requeued, and change nothing. */
  dryRun?: boolean;
}

/** A job `retryJobs` put back in the queue (or, in a dry run, would). */
export interface RequeuedJob {
  id: string;
  runId: string;
  task: string;
  partitionKey: string;
  /** Its run's snapshot: the definitions it runs on again. */
  snapshotId: string | null;
}

export interface TaskFailures {
  task: string;
  failures: number;
  lastError: string | null;
  lastFailedAt: Date;
}

export interface AssetSummary {
  name: string;
  partitions: number;
  /** The state of its most recently changed partition. */
  state: JobState;
  updatedAt: Date;
  lastSuccessAt: Date | null;
}

/** One asset × partition materialised (or failed to) by one job's attempt. */
export interface MaterializationRecord {
  asset: string;
  partitionKey: string;
  status: 'succeeded' | 'failed';
  rows: number | null;
  bytes: number | null;
  codeVersion: string | null;
  runId: string;
  jobId: string;
  attempt: number | null;
  task: string;
  startedAt: Date | null;
  finishedAt: Date;
}

/** One `@check` evaluated against an asset (one partition of it), after an attempt or on demand. */
export interface CheckResultRecord {
  asset: string;
  partitionKey: string;
  check: string;
  passed: boolean;
  severity: 'error' | 'warn';
  /** The first cell the check's query returned, as text (`ERROR` when the query failed). */
  value: string | null;
  /** The expectation, e.g. `eq 0`. */
  expected: string;
  /** Why it failed. */
  error: string | null;
  /** The run and job whose attempt it checked; null for `check run`. */
  runId: string | null;
  jobId: string | null;
  checkedAt: Date;
}

/**
 * The status of a partitioned asset's partitions as ranges of indices into its partition space
 * (`[lo, hi)` pairs), as of `through`: the partitions' latest states up to then, kept so that
 * reading them again takes only what changed since.
 */
export interface StoredPartitionRanges {
  asset: string;
  /** The partition definition they index (JSON): ranges of another definition mean nothing. */
  spaceKey: string;
  through: Date;
  ranges: { succeeded: Array<[number, number]>; failed: Array<[number, number]> };
}

/** An asset's latest materialisation over all its partitions (`asset_latest`). */
export interface LatestMaterialization {
  asset: string;
  partitionKey: string;
  state: JobState;
  at: Date;
  lastSuccessAt: Date | null;
  runId: string;
  jobId: string;
  rows: number | null;
  codeVersion: string | null;
}

/** An asset's materialisations over a while, by outcome (`asset health`). */
export interface AssetActivity {
  name: string;
  succeeded: number;
  failed: number;
}

export interface JobQuery {
  limit: number;
  task?: string;
  /** Only jobs of these tasks. */
  tasks?: readonly string[];
  runId?: string;
  states?: readonly JobState[];
  /** Only jobs of this DAG's runs. */
  dag?: string;
}

/** A snapshot taken of a DAG's code (`snapshot`), with where a worker loads that code from. */
export interface DagSnapshot {
  dag: string;
  snapshotId: string;
  /** Absolute path of the module that exports the DAG. */
  module: string;
  exportName: string;
  createdAt: Date;
  taskCount: number;
  /** Whether it is the DAG's active snapshot: what `--dag <name>` means. */
  active: boolean;
}

export interface NewDagSnapshot {
  dag: string;
  snapshotId: string;
  module: string;
  exportName: string;
}

export interface Ledger {
  /** Stores a snapshot unless one with its id exists (ids are content hashes). */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** The snapshot, or only the named tasks of it. */
  loadSnapshot(id: string, tasks?: readonly string[]): Promise<Snapshot | undefined>;

  /** Creates a run and all its jobs, atomically. */
  enqueueRun(run: NewRun, now: Date): Promise<RunRecord>;
  /**
   * Creates many runs and their jobs at one cost where the ledger can (thousands in one
   * statement): all of them or, when a run id exists already (`DUPLICATE_RUN`), none.
   * Returns their records in the order given.
   */
  enqueueRuns(runs: readonly NewRun[], now: Date): Promise<RunRecord[]>;
  /**
   * Takes up to `limit` jobs that may run now (pending or failed with `run_at` due, every
   * upstream job succeeded or skipped), oldest first, leased to `worker`. Costs O(ready jobs).
   */
  claim(options: ClaimOptions): Promise<ClaimedJob[]>;
  /** Extends the leases the worker still holds; says which it no longer holds and which were cancelled meanwhile. */
  heartbeat(worker: string, jobIds: readonly string[], leaseMs: number, now: Date): Promise<HeartbeatResult>;
  /**
   * Records a job's success. With `tx`, inside that open data transaction, which it then
   * commits: the data and the record of it become durable together.
   */
  complete(job: ClaimedJob, worker: string, outcome: SuccessOutcome, now: Date, tx?: DataTransaction): Promise<void>;
  /**
   * Records the successes of jobs that ended together and claims the worker's next jobs (`next`),
   * at one cost where the ledger can: a busy worker hands the freed slots straight on. Jobs the
   * worker no longer held are returned as `lost` (nothing of them is recorded); when none was
   * held, nothing is claimed.
   */
  completeAndClaim(
    worker: string,
    completions: readonly Completion[],
    now: Date,
    next: ClaimOptions,
  ): Promise<{ claimed: ClaimedJob[]; lost: string[] }>;
  /**
   * Records a failed (or cancelled) attempt: retry later, dead, or cancelled. Returns the job
   * and the downstream jobs this blocked or cancelled.
   */
  fail(job: ClaimedJob, worker: string, failure: FailureOutcome, now: Date): Promise<{ job: JobRecord; downstream: JobRecord[] }>;
  /** Marks a job `skipped` without running it (its task is missing from the definitions). */
  skip(job: ClaimedJob, worker: string, reason: string, now: Date): Promise<void>;
  /** Gives jobs back without counting the attempt (a worker shutting down). */
  release(worker: string, jobIds: readonly string[], now: Date): Promise<void>;
  /** Returns the jobs of dead workers (lease expired) to `pending`, keeping their attempt's real start. */
  reapExpired(now: Date): Promise<number>;
  /** When the earliest lease now held runs out (undefined when no job is processing): reapers wake then. */
  nextLeaseExpiry(): Promise<Date | undefined>;
  /**
   * Cancels every job of the run that has not finished; returns them. One in flight keeps running
   * (`cancelRequested`) until its worker, told by its heartbeat, stops it and records it cancelled.
   */
  cancelRun(runId: string, reason: string, now: Date): Promise<JobRecord[]>;
  /**
   * Puts every dead, failed, blocked, skipped or cancelled job of the run back to pending, the
   * run now bound to `snapshotId` (the definitions as they are now, which a retry is for).
   */
  retryRun(runId: string, now: Date, snapshotId: string): Promise<number>;

  /**
   * Puts dead (or failed) jobs back to pending across runs, attempts reset (Orchex's
   * `retry-dead`/`retry-failed`); what they blocked comes back as they succeed. Returns them;
   * with `dryRun`, the jobs it would requeue, nothing changed.
   */
  retryJobs(filter: RetryFilter, now: Date): Promise<RequeuedJob[]>;
  /**
   * When the next claimable job (filtered as `claim` filters) is due; undefined when none is
   * waiting. With `runId`, a job of the run processing on another worker counts as due when its
   * lease runs out, so that a process working the run waits for it (or takes it back). (The
   * embedded ledger's processing jobs are all its own process's: their end wakes its workers.)
   */
  nextDue(filter?: DueFilter): Promise<Date | undefined>;

  /**
   * Records that `entry.snapshotId` (saved before) was taken of a DAG's code and, with
   * `activate`, makes it the DAG's active snapshot. `recorded` is false when the DAG had that
   * snapshot already; `activated` false when it was active already (or not asked for).
   */
  recordDagSnapshot(entry: NewDagSnapshot, activate: boolean, now: Date): Promise<{ recorded: boolean; activated: boolean }>;
  /** The snapshots of one DAG (or of all), newest first; or only the active ones. */
  dagSnapshots(filter?: { dag?: string; activeOnly?: boolean }): Promise<DagSnapshot[]>;

  /**
   * Takes or renews the lease on a DuckDB database for `worker`, until `now + leaseMs`: DuckDB
   * lets one process write a file, so one worker at a time runs the jobs of a database. Taken
   * when free, expired or already this worker's. Returns the holder after the call (another
   * worker's live lease is left alone). The embedded ledger is one process: always the caller.
   */
  holdDatabase(database: string, worker: string, leaseMs: number, now: Date): Promise<DatabaseLease>;
  /** Gives up the worker's lease on a database (it closed the file). */
  releaseDatabase(database: string, worker: string): Promise<void>;

  /** `register` made this snapshot the registry of this database: what runs of that registry are compared with. */
  recordRegistration(database: string, snapshotId: string, now: Date): Promise<void>;
  /**
   * The task names each run's definitions have now: its DAG's active snapshot, or the registry its
   * database last registered. A run whose current definitions are unknown is left out.
   */
  currentTasks(runIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>>;

  getRun(id: string): Promise<RunRecord | undefined>;
  /** Runs whose id starts with `prefix`, newest first. */
  findRuns(prefix: string, limit: number): Promise<RunRecord[]>;
  listRuns(limit: number): Promise<RunRecord[]>;
  /** Tasks (all, or these) whose attempts failed since `since`, most failures first. */
  failures(since: Date, limit: number, tasks?: readonly string[]): Promise<TaskFailures[]>;
  listJobs(query: JobQuery): Promise<JobRecord[]>;
  /** Every attempt of these jobs, oldest first. */
  listAttempts(jobIds: readonly string[]): Promise<AttemptRecord[]>;
  /** Jobs per state, over all runs, or one run, or some tasks, or one DAG's runs. */
  queueDepth(filter?: { runId?: string; tasks?: readonly string[]; dag?: string }): Promise<Partial<Record<JobState, number>>>;
  /** Latest state of each partition of one asset, or of every asset when `asset` is omitted. */
  assetStates(asset?: string): Promise<PartitionState[]>;
  partitionRanges(asset: string): Promise<StoredPartitionRanges | undefined>;
  savePartitionRanges(ranges: StoredPartitionRanges): Promise<void>;
  /** An asset's materialisations, newest first; one partition's when given; those that ended at or after `since` when given. */
  assetMaterializations(asset: string, options: { limit: number; partitionKey?: string; since?: Date }): Promise<MaterializationRecord[]>;
  /** Each asset's latest materialisation (or one asset's), read by key. */
  latestMaterializations(asset?: string): Promise<LatestMaterialization[]>;
  /** Each partition of an asset materialised at or after `since`, with its latest status (`succeeded` or `dead`). */
  partitionChanges(asset: string, since: Date): Promise<Array<{ partitionKey: string; status: 'succeeded' | 'dead'; at: Date }>>;
  /** The partition keys of a task's jobs that are queued, in flight or waiting for a retry. */
  inFlightPartitions(task: string): Promise<string[]>;
  /** How many such jobs each task has (tasks with none left out), in one read. */
  inFlightCounts(): Promise<Map<string, number>>;
  /** Keeps check results (they are observations: written after the attempt, not with its data). */
  recordCheckResults(results: readonly CheckResultRecord[]): Promise<void>;
  /** An asset's check results, newest first. */
  checkHistory(asset: string, limit: number): Promise<CheckResultRecord[]>;
  /** Per asset, its materialisations that ended at or after `since`, by outcome. */
  assetActivity(since: Date): Promise<AssetActivity[]>;
  /** Per asset (or for one), over its partitions: the latest change and the latest success (one automation tick's read). */
  assetSummaries(asset?: string): Promise<AssetSummary[]>;
  /** Latest state of each task: its most recently changed partition (last success over all of them). */
  taskStates(): Promise<PartitionState[]>;
  /** The `@incremental_by` value the task's last success recorded. */
  lastWatermark(task: string, partitionKey?: string): Promise<string | null>;
  /**
   * The results a function task receives from `tasks` (its upstream tasks), by name: from their
   * jobs in the same run, else from their latest success (null when they never succeeded).
   */
  upstreamResults(job: JobRecord, tasks: readonly string[]): Promise<Record<string, JsonValue>>;
  /** Writes what is buffered; the embedded ledger batches writes that need not share a task's transaction. */
  flush(): Promise<void>;
  /**
   * Calls `listener` whenever jobs may have become claimable (enqueued, an upstream done, a
   * retry or release): idle workers wake at once instead of polling. Returns the unsubscribe.
   */
  subscribe(listener: () => void): Promise<() => Promise<void>>;
}

/** `enqueueRun` with the id of a run that exists (`enqueue --run-id`). */
export function duplicateRun(id: string): DuckorchError {
  return new DuckorchError('DUPLICATE_RUN', `a run with id ${id} exists already`, {
    hint: 'give a new UUID to --run-id, or leave it out for a fresh one',
  });
}

/** Throws DUPLICATE_RUN when a batch names one run id twice (nothing of it is written then). */
export function assertDistinctRunIds(runs: readonly NewRun[]): void {
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.id)) throw duplicateRun(r.id);
    seen.add(r.id);
  }
}

/** A run just enqueued, as written (without reading it back): queued, or succeeded at once when it has no job. */
export function enqueuedRunRecord(run: NewRun, now: Date): RunRecord {
  const empty = run.jobs.length === 0;
  return {
    id: run.id,
    snapshotId: run.snapshotId,
    trigger: run.trigger,
    selector: run.selector,
    inputs: run.inputs,
    state: empty ? 'succeeded' : 'queued',
    createdAt: now,
    startedAt: null,
    finishedAt: empty ? now : null,
    counts: empty ? {} : { pending: run.jobs.length },
    tasks: [...new Set(run.jobs.map((j) => j.task))],
    dag: run.dag ?? null,
    metadata: run.metadata ?? {},
  };
}

/**
 * The rows of the embedded ledger's tables as this process reads and writes them: the column
 * types of each batch write, the JSON shapes (and SQL fragments) a queue is read in, and the
 * mapping between rows and records. Nothing here runs a query: `duckdb-ledger.ts` does.
 */
import { randomUUID } from 'node:crypto';
import type { Job, JobState, RunState } from '../../model/jobs/job-state.js';
import {
  DEFAULT_PARTITION,
  type AttemptOutcome,
  type JobRecord,
  type JsonValue,
  type NewRun,
  type PartitionState,
  type RunRecord,
  type RunMetadata,
} from '../ledger.js';
import { toDate, type Row } from '../rows.js';
import type { ColumnTypes } from './sql-util.js';

export interface AttemptRow {
  seq: number;
  job: JobRecord;
  attempt: number;
  worker: string;
  startedAt: Date;
  finishedAt: Date;
  outcome: AttemptOutcome;
  assets: readonly string[];
}

/** A job that reached a state the history keeps (succeeded, dead, skipped, cancelled) since the last flush. */
export interface Settled {
  job: JobRecord;
  assets: readonly string[];
}

export interface ActiveRun {
  record: RunRecord;
  /** Downstream job ids by upstream task name. */
  downstream: Map<string, string[]>;
  /** Job ids by `task\0partition`. */
  byTask: Map<string, string>;
  /** Job ids by task, every partition. */
  ofTask: Map<string, string[]>;
  jobs: Set<string>;
  /**
   * A large run of jobs that wait for none (a backfill of one asset) is kept in memory a page at
   * a time: its waiting jobs are read in id order as the page runs low, its successes leave once
   * written. `after` is the id of the last job read; `left` how many waiting jobs are still only
   * on disk (counted as pending in the run's counts).
   */
  page?: { after: string; left: number; loading?: Promise<void> };
}

/** What an attempt ended with, kept on both its attempt row and its job's. */
const OUTCOME_TYPES: ColumnTypes = {
  rows_count: 'BIGINT',
  result_json: 'VARCHAR',
  last_processed_at: 'VARCHAR',
  error_message: 'VARCHAR',
  error_context_json: 'VARCHAR',
  code_version: 'VARCHAR',
};

export const JOB_COLUMNS: ColumnTypes = {
  job_id: 'VARCHAR',
  pipeline_run_id: 'VARCHAR',
  task_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  state: 'VARCHAR',
  attempts: 'INTEGER',
  max_attempts: 'INTEGER',
  run_at: 'TIMESTAMP',
  lease_owner: 'VARCHAR',
  lease_expires_at: 'TIMESTAMP',
  created_at: 'TIMESTAMP',
  started_at: 'TIMESTAMP',
  finished_at: 'TIMESTAMP',
  updated_at: 'TIMESTAMP',
  upstream: 'VARCHAR[]',
  ...OUTCOME_TYPES,
  cancel_requested: 'BOOLEAN',
  database_id: 'VARCHAR',
};

/** What `enqueueRuns` sends once per batch: the fields runs share, and the jobs of each plan. */
export const SHAPE_TYPES = JSON.stringify([
  {
    shape: 'INTEGER',
    plan: 'INTEGER',
    snap: 'VARCHAR',
    trig: 'VARCHAR',
    sel: 'VARCHAR',
    state: 'VARCHAR',
    n: 'INTEGER',
    counts: 'VARCHAR',
    tasks: 'VARCHAR[]',
    dag: 'VARCHAR',
    meta: 'VARCHAR',
  },
]);
export const TEMPLATE_TYPES = JSON.stringify([
  { plan: 'INTEGER', pos: 'INTEGER', task: 'VARCHAR', part: 'VARCHAR', attempts: 'INTEGER', up: 'VARCHAR[]', db: 'VARCHAR' },
]);

export const ATTEMPT_TYPES: ColumnTypes = {
  attempt_seq: 'BIGINT',
  job_id: 'VARCHAR',
  pipeline_run_id: 'VARCHAR',
  task_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  attempt: 'INTEGER',
  worker: 'VARCHAR',
  started_at: 'TIMESTAMP',
  finished_at: 'TIMESTAMP',
  outcome: 'VARCHAR',
  job_state: 'VARCHAR',
  ...OUTCOME_TYPES,
  assets: 'VARCHAR[]',
};

export const MATERIALIZATION_COLUMNS: ColumnTypes = {
  asset_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  status: 'VARCHAR',
  rows: 'BIGINT',
  bytes: 'BIGINT',
  code_version: 'VARCHAR',
  run_id: 'VARCHAR',
  job_id: 'VARCHAR',
  attempt: 'INTEGER',
  task_name: 'VARCHAR',
  started_at: 'TIMESTAMP',
  finished_at: 'TIMESTAMP',
  materialized_at: 'TIMESTAMP',
};

export const CHECK_RESULT_TYPES: ColumnTypes = {
  asset_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  check_name: 'VARCHAR',
  passed: 'BOOLEAN',
  severity: 'VARCHAR',
  value: 'VARCHAR',
  expected: 'VARCHAR',
  error: 'VARCHAR',
  run_id: 'VARCHAR',
  job_id: 'VARCHAR',
  checked_at: 'TIMESTAMP',
};

export const TASK_STATE_COLUMNS: ColumnTypes = {
  task_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  state: 'VARCHAR',
  updated_at: 'TIMESTAMP',
  last_success_at: 'TIMESTAMP',
  last_processed_at: 'VARCHAR',
  pipeline_run_id: 'VARCHAR',
  job_id: 'VARCHAR',
  rows_count: 'BIGINT',
  code_version: 'VARCHAR',
};

export const ASSET_STATE_COLUMNS: ColumnTypes = {
  asset_name: 'VARCHAR',
  partition_key: 'VARCHAR',
  state: 'VARCHAR',
  updated_at: 'TIMESTAMP',
  last_success_at: 'TIMESTAMP',
  pipeline_run_id: 'VARCHAR',
  job_id: 'VARCHAR',
  rows_count: 'BIGINT',
  code_version: 'VARCHAR',
};

/** Completed by a parameter: the runs of one DAG. */
export const RUNS_OF_DAG = 'SELECT pipeline_run_id FROM __orch__.pipeline_runs WHERE dag_name = ';

export const key = (task: string, partition: string) => `${task}\u0000${partition}`;

export function toJob(r: JobRecord): Job {
  return {
    state: r.state,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    runAt: r.runAt,
    leaseOwner: r.leaseOwner,
    leaseExpiresAt: r.leaseExpiresAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    lastError: r.error,
    cancelRequested: r.cancelRequested,
  };
}

export function jobRow(r: JobRecord, database: string | null): Row {
  return {
    job_id: r.id,
    pipeline_run_id: r.runId,
    task_name: r.task,
    partition_key: r.partitionKey,
    state: r.state,
    attempts: r.attempts,
    max_attempts: r.maxAttempts,
    run_at: r.runAt,
    lease_owner: r.leaseOwner,
    lease_expires_at: r.leaseExpiresAt,
    created_at: r.createdAt,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    updated_at: r.finishedAt ?? r.startedAt ?? r.createdAt,
    upstream: r.upstream,
    rows_count: r.rows,
    result_json: r.result === null ? null : JSON.stringify(r.result),
    last_processed_at: r.watermark,
    error_message: r.error,
    error_context_json: r.errorContext ? JSON.stringify(r.errorContext) : null,
    code_version: r.codeVersion,
    cancel_requested: r.cancelRequested,
    database_id: database,
  };
}

export function attemptRow(a: AttemptRow): Row {
  const j = a.job;
  return {
    attempt_seq: a.seq,
    job_id: j.id,
    pipeline_run_id: j.runId,
    task_name: j.task,
    partition_key: j.partitionKey,
    attempt: a.attempt,
    worker: a.worker,
    started_at: a.startedAt,
    finished_at: a.finishedAt,
    outcome: a.outcome,
    job_state: j.state,
    rows_count: a.outcome === 'succeeded' ? j.rows : null,
    result_json: a.outcome === 'succeeded' && j.result !== null ? JSON.stringify(j.result) : null,
    last_processed_at: a.outcome === 'succeeded' ? j.watermark : null,
    error_message: a.outcome === 'succeeded' ? null : j.error,
    error_context_json: a.outcome !== 'succeeded' && j.errorContext ? JSON.stringify(j.errorContext) : null,
    code_version: j.codeVersion,
    assets: [...a.assets],
  };
}

export function fromRunRow(r: Row): RunRecord {
  return {
    id: String(r.pipeline_run_id),
    snapshotId: (r.snapshot_id as string | null) ?? null,
    trigger: String(r.trigger),
    selector: (r.selector as string | null) ?? null,
    inputs: r.inputs_json ? (JSON.parse(String(r.inputs_json)) as JsonValue) : null,
    state: r.state as RunState,
    createdAt: toDate(r.created_at)!,
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at),
    counts: JSON.parse(String(r.job_counts_json)) as RunRecord['counts'],
    tasks: ((r.planned_tasks as string[] | null) ?? []).map(String),
    dag: (r.dag_name as string | null) ?? null,
    metadata: r.metadata_json ? (JSON.parse(String(r.metadata_json)) as RunMetadata) : {},
  };
}

/** A run as `loadActive` reads it: times as epoch milliseconds, JSON columns as text. */
export interface RunJson {
  id: string;
  snapshot: string | null;
  trigger: string;
  selector: string | null;
  inputs: string | null;
  state: RunState;
  created: number;
  started: number | null;
  finished: number | null;
  counts: string;
  tasks: string[] | null;
  dag: string | null;
  metadata: string | null;
}

export const RUN_JSON = `to_json({
  id: p.pipeline_run_id, snapshot: p.snapshot_id, trigger: p.trigger, selector: p.selector, inputs: p.inputs_json, state: p.state,
  created: epoch_ms(p.created_at), started: epoch_ms(p.started_at), finished: epoch_ms(p.finished_at), counts: p.job_counts_json,
  tasks: p.planned_tasks, dag: p.dag_name, metadata: p.metadata_json
})::VARCHAR AS j`;

export const ms = (v: number | null): Date | null => (v === null ? null : new Date(v));

export function runFromJson(r: RunJson): RunRecord {
  return {
    id: r.id,
    snapshotId: r.snapshot,
    trigger: r.trigger,
    selector: r.selector,
    inputs: r.inputs ? (JSON.parse(r.inputs) as JsonValue) : null,
    state: r.state,
    createdAt: new Date(r.created),
    startedAt: ms(r.started),
    finishedAt: ms(r.finished),
    counts: JSON.parse(r.counts) as RunRecord['counts'],
    tasks: r.tasks ?? [],
    dag: r.dag,
    metadata: r.metadata ? (JSON.parse(r.metadata) as RunMetadata) : {},
  };
}

/** A job as `loadActive` reads it (short names: a queue of 20,000 is one JSON text). */
export interface JobJson {
  id: string;
  r: string;
  task: string;
  part: string;
  state: JobState;
  attempts: number;
  max: number;
  runAt: number;
  owner: string | null;
  lease: number | null;
  created: number;
  started: number | null;
  finished: number | null;
  up: string[] | null;
  rows: number | null;
  result: string | null;
  wm: string | null;
  err: string | null;
  ctx: string | null;
  cv: string | null;
  cancel: boolean | null;
  db: string | null;
}

export const JOB_JSON = `to_json({
  id: j.job_id, r: j.pipeline_run_id, task: j.task_name, part: j.partition_key, state: j.state, attempts: j.attempts, max: j.max_attempts,
  runAt: epoch_ms(j.run_at), owner: j.lease_owner, lease: epoch_ms(j.lease_expires_at), created: epoch_ms(j.created_at),
  started: epoch_ms(j.started_at), finished: epoch_ms(j.finished_at), up: j.upstream, rows: j.rows_count::DOUBLE, result: j.result_json,
  wm: j.last_processed_at, err: j.error_message, ctx: j.error_context_json, cv: j.code_version, cancel: j.cancel_requested, db: j.database_id
})::VARCHAR AS j`;

export function jobFromJson(j: JobJson): JobRecord {
  return {
    id: j.id,
    runId: j.r,
    task: j.task,
    partitionKey: j.part,
    state: j.state,
    attempts: j.attempts,
    maxAttempts: j.max,
    runAt: new Date(j.runAt),
    leaseOwner: j.owner,
    leaseExpiresAt: ms(j.lease),
    createdAt: new Date(j.created),
    startedAt: ms(j.started),
    finishedAt: ms(j.finished),
    rows: j.rows,
    result: j.result === null ? null : (JSON.parse(j.result) as JsonValue),
    watermark: j.wm,
    error: j.err,
    errorContext: j.ctx === null ? null : (JSON.parse(j.ctx) as Record<string, unknown>),
    codeVersion: j.cv,
    upstream: j.up ?? [],
    cancelRequested: j.cancel === true,
  };
}

/** The state columns as plain values (epoch milliseconds, not timestamp objects): 10,000 partitions convert in a few ms. */
export const STATE_SELECT =
  'asset_name, partition_key, state, epoch_ms(updated_at)::DOUBLE, epoch_ms(last_success_at)::DOUBLE, rows_count::DOUBLE, code_version';

export function fromStateTuple(r: readonly unknown[]): PartitionState {
  return {
    name: r[0] as string,
    partitionKey: r[1] as string,
    status: r[2] as JobState,
    at: new Date(r[3] as number),
    lastSuccessAt: r[4] === null ? null : new Date(r[4] as number),
    rows: r[5] as number | null,
    codeVersion: (r[6] as string | null | undefined) ?? null,
  };
}

/** A new run's jobs, pending, as `enqueueRun` writes them. */
export function newJobs(run: NewRun, now: Date, id: (position: number) => string = () => randomUUID()): JobRecord[] {
  return run.jobs.map((j, position) => ({
    id: id(position),
    runId: run.id,
    task: j.task,
    partitionKey: j.partitionKey ?? DEFAULT_PARTITION,
    state: 'pending',
    attempts: 0,
    maxAttempts: Math.max(1, j.maxAttempts),
    runAt: now,
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    rows: null,
    result: null,
    watermark: null,
    error: null,
    errorContext: null,
    codeVersion: null,
    upstream: [...j.upstream],
    cancelRequested: false,
  }));
}

/**
 * Ledger rows to records, for both ledgers. Their tables hold the same columns under a few
 * different names (DuckDB keeps duckOrch's `pipeline_run_id` and stores JSON as text; PostgreSQL
 * says `run_id` and hands `jsonb` back already parsed): a `RowDialect` names those differences.
 */
import type { JobState } from '../model/jobs/job-state.js';
import type {
  AssetSummary,
  AttemptOutcome,
  CheckResultRecord,
  LatestMaterialization,
  MaterializationRecord,
  AttemptRecord,
  DagSnapshot,
  JobRecord,
  JsonValue,
} from './ledger.js';

export type Row = Record<string, unknown>;

export interface RowDialect {
  runId: 'pipeline_run_id' | 'run_id';
  result: 'result_json' | 'result';
  errorContext: 'error_context_json' | 'error_context';
  /** A JSON column's value as the driver returns it, decoded. */
  json(v: unknown): unknown;
}

export const DUCKDB_ROWS: RowDialect = {
  runId: 'pipeline_run_id',
  result: 'result_json',
  errorContext: 'error_context_json',
  json: (v) => (v === null || v === undefined ? null : JSON.parse(String(v))),
};

export const POSTGRES_ROWS: RowDialect = {
  runId: 'run_id',
  result: 'result',
  errorContext: 'error_context',
  json: (v) => v ?? null,
};

export function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

export function toText(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function toNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

export function jobFromRow(r: Row, d: RowDialect): JobRecord {
  return {
    id: String(r.job_id),
    runId: String(r[d.runId]),
    task: String(r.task_name),
    partitionKey: String(r.partition_key),
    state: r.state as JobState,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runAt: toDate(r.run_at)!,
    leaseOwner: (r.lease_owner as string | null) ?? null,
    leaseExpiresAt: toDate(r.lease_expires_at),
    createdAt: toDate(r.created_at)!,
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at),
    rows: toNumber(r.rows_count),
    result: d.json(r[d.result]) as JsonValue,
    watermark: (r.last_processed_at as string | null) ?? null,
    error: (r.error_message as string | null) ?? null,
    errorContext: d.json(r[d.errorContext]) as Record<string, unknown> | null,
    codeVersion: (r.code_version as string | null) ?? null,
    upstream: ((r.upstream as string[] | null) ?? []).map(String),
    cancelRequested: r.cancel_requested === true,
  };
}

export function attemptFromRow(r: Row, d: RowDialect): AttemptRecord {
  return {
    jobId: String(r.job_id),
    runId: String(r[d.runId]),
    task: String(r.task_name),
    partitionKey: String(r.partition_key),
    attempt: Number(r.attempt),
    worker: String(r.worker),
    startedAt: toDate(r.started_at)!,
    finishedAt: toDate(r.finished_at)!,
    outcome: r.outcome as AttemptOutcome,
    error: (r.error_message as string | null) ?? null,
    errorContext: d.json(r[d.errorContext]) as Record<string, unknown> | null,
  };
}

/** An asset's summary row: its partitions, the state of the latest changed one, when it last changed and last succeeded. */
export function assetSummaryFromRow(r: Row): AssetSummary {
  return {
    name: String(r.asset_name),
    partitions: Number(r.partitions),
    state: r.state as JobState,
    updatedAt: toDate(r.updated_at)!,
    lastSuccessAt: toDate(r.last_success_at),
  };
}

/** A `dag_snapshots` row with its snapshot's task count and whether it is the DAG's active one. */
export function dagSnapshotFromRow(r: Row): DagSnapshot {
  return {
    dag: String(r.dag_name),
    snapshotId: String(r.snapshot_id),
    module: String(r.module),
    exportName: String(r.export_name),
    createdAt: toDate(r.created_at)!,
    taskCount: Number(r.task_count),
    active: Boolean(r.active),
  };
}

/** A materialisation row (`asset_materializations`), as both ledgers select it. */
export function materializationFromRow(r: Record<string, unknown>): MaterializationRecord {
  return {
    asset: String(r.asset_name),
    partitionKey: String(r.partition_key),
    status: r.status === 'succeeded' ? 'succeeded' : 'failed',
    rows: toNumber(r.rows),
    bytes: toNumber(r.bytes),
    codeVersion: toText(r.code_version),
    runId: String(r.run_id),
    jobId: String(r.job_id),
    attempt: toNumber(r.attempt),
    task: String(r.task_name),
    startedAt: toDate(r.started_at),
    finishedAt: toDate(r.finished_at)!,
  };
}

/** The columns `materializationFromRow` reads. */
export const MATERIALIZATION_SELECT =
  'asset_name, partition_key, status, rows, bytes, code_version, run_id, job_id, attempt, task_name, started_at, finished_at';

/** The columns of `asset_check_results`, in order. */
export const CHECK_RESULT_COLUMNS = [
  'asset_name',
  'partition_key',
  'check_name',
  'passed',
  'severity',
  'value',
  'expected',
  'error',
  'run_id',
  'job_id',
  'checked_at',
] as const;

export function checkResultValues(r: CheckResultRecord): unknown[] {
  return [r.asset, r.partitionKey, r.check, r.passed, r.severity, r.value, r.expected, r.error, r.runId, r.jobId, r.checkedAt];
}

export function checkResultFromRow(r: Record<string, unknown>): CheckResultRecord {
  return {
    asset: String(r.asset_name),
    partitionKey: String(r.partition_key),
    check: String(r.check_name),
    passed: r.passed === true,
    severity: r.severity === 'warn' ? 'warn' : 'error',
    value: toText(r.value),
    expected: String(r.expected ?? ''),
    error: toText(r.error),
    runId: toText(r.run_id),
    jobId: toText(r.job_id),
    checkedAt: toDate(r.checked_at)!,
  };
}

/** An `asset_latest` row, as both ledgers select it (`LATEST_SELECT`). */
export function latestFromRow(r: Record<string, unknown>): LatestMaterialization {
  return {
    asset: String(r.asset_name),
    partitionKey: String(r.partition_key),
    state: r.state as JobState,
    at: toDate(r.updated_at)!,
    lastSuccessAt: toDate(r.last_success_at),
    runId: String(r.run_id),
    jobId: String(r.job_id),
    rows: toNumber(r.rows_count),
    codeVersion: toText(r.code_version),
  };
}

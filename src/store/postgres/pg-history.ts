/**
 * The PostgreSQL ledger's history as jobs change: each attempt, materialisations and the latest
 * state per task and asset; and the small tables beside it (database leases, registrations, the
 * results a function task receives).
 */
import type pg from 'pg';
import { PgEnqueue } from './pg-enqueue.js';
import { type JobState } from '../../model/jobs/job-state.js';
import { DEFAULT_PARTITION, type AttemptOutcome, type DatabaseLease, type JobRecord, type JsonValue } from '../ledger.js';
import { toDate } from '../rows.js';

type Client = pg.PoolClient;

/** An asset's latest materialisation: the newer one wins; the last success stays when the new one failed. */
export const LATEST_SET = `partition_key = EXCLUDED.partition_key, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
  last_success_at = coalesce(EXCLUDED.last_success_at, asset_latest.last_success_at), run_id = EXCLUDED.run_id, job_id = EXCLUDED.job_id,
  rows_count = EXCLUDED.rows_count, code_version = EXCLUDED.code_version`;

export abstract class PgHistory extends PgEnqueue {
  protected async recordAttempt(
    c: Client,
    job: JobRecord,
    worker: string,
    now: Date,
    outcome: AttemptOutcome,
    jobState: JobState,
    assets: readonly string[],
    extra: { rows?: number | null; result?: JsonValue; watermark?: string | null; codeVersion?: string | null; startedAt?: Date | null },
  ): Promise<void> {
    await c.query(
      `INSERT INTO ${this.s}.attempts (job_id, run_id, task_name, partition_key, attempt, worker, started_at, finished_at, outcome, job_state,
         rows_count, result, last_processed_at, error_message, error_context, code_version, assets)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [
        job.id,
        job.runId,
        job.task,
        job.partitionKey,
        job.attempts,
        worker,
        extra.startedAt ?? job.startedAt ?? now,
        now,
        outcome,
        jobState,
        extra.rows ?? null,
        extra.result === undefined || extra.result === null ? null : JSON.stringify(extra.result),
        extra.watermark ?? null,
        outcome === 'succeeded' ? null : job.error,
        outcome === 'succeeded' || !job.errorContext ? null : JSON.stringify(job.errorContext),
        extra.codeVersion ?? job.codeVersion,
        [...assets],
      ],
    );
  }

  /** Materialisations and the latest state per task and asset × partition. */
  protected async recordHistory(c: Client, job: JobRecord, assets: readonly string[], now: Date): Promise<void> {
    const success = job.state === 'succeeded';
    const at = job.finishedAt ?? now;
    await c.query(
      `INSERT INTO ${this.s}.task_state VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (task_name, partition_key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
         last_success_at = coalesce(EXCLUDED.last_success_at, task_state.last_success_at),
         last_processed_at = CASE WHEN EXCLUDED.state = 'succeeded' THEN EXCLUDED.last_processed_at ELSE task_state.last_processed_at END,
         run_id = EXCLUDED.run_id, job_id = EXCLUDED.job_id, rows_count = EXCLUDED.rows_count, code_version = EXCLUDED.code_version`,
      [
        job.task,
        job.partitionKey,
        job.state,
        at,
        success ? at : null,
        success ? job.watermark : null,
        job.runId,
        job.id,
        job.rows,
        job.codeVersion,
      ],
    );
    if (!success && job.state !== 'dead') return;
    for (const [i, asset] of assets.entries()) {
      const rows = i === 0 ? job.rows : null;
      await c.query(
        `INSERT INTO ${this.s}.asset_materializations (asset_name, partition_key, finished_at, job_id, rows, status, run_id, task_name,
           code_version, started_at, attempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          asset,
          job.partitionKey,
          at,
          job.id,
          rows,
          success ? 'succeeded' : 'failed',
          job.runId,
          job.task,
          job.codeVersion,
          job.startedAt,
          job.attempts,
        ],
      );
      await c.query(
        `INSERT INTO ${this.s}.asset_state VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (asset_name, partition_key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
           last_success_at = coalesce(EXCLUDED.last_success_at, asset_state.last_success_at), run_id = EXCLUDED.run_id,
           job_id = EXCLUDED.job_id, rows_count = EXCLUDED.rows_count, code_version = EXCLUDED.code_version`,
        [asset, job.partitionKey, job.state, at, success ? at : null, job.runId, job.id, rows, job.codeVersion],
      );
      await c.query(
        `INSERT INTO ${this.s}.asset_latest VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (asset_name) DO UPDATE SET ${LATEST_SET}`,
        [asset, job.partitionKey, job.state, at, success ? at : null, job.runId, job.id, rows, job.codeVersion],
      );
    }
  }

  async holdDatabase(database: string, worker: string, leaseMs: number, now: Date): Promise<DatabaseLease> {
    // Taken when free, expired or already ours; another worker's live lease is left as it is.
    const row =
      (
        await this.prepared(
          'holdDatabase',
          `WITH taken AS (
           INSERT INTO ${this.s}.database_leases AS l VALUES ($1, $2, $3, $4)
           ON CONFLICT (database_id) DO UPDATE SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at,
             acquired_at = CASE WHEN l.worker = EXCLUDED.worker THEN l.acquired_at ELSE EXCLUDED.acquired_at END
           WHERE l.worker = EXCLUDED.worker OR l.expires_at <= EXCLUDED.acquired_at
           RETURNING worker, expires_at
         )
         SELECT worker, expires_at FROM taken
         UNION ALL SELECT worker, expires_at FROM ${this.s}.database_leases WHERE database_id = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
          [database, worker, now, new Date(now.getTime() + leaseMs)],
        )
      ).rows[0] ?? // Another worker inserted the row while this statement waited: its snapshot predates that row.
      (await this.q(`SELECT worker, expires_at FROM ${this.s}.database_leases WHERE database_id = $1`, [database])).rows[0];
    if (!row) return { database, worker: '', expiresAt: now };
    return { database, worker: String(row.worker), expiresAt: toDate(row.expires_at)! };
  }

  async releaseDatabase(database: string, worker: string): Promise<void> {
    await this.q(`DELETE FROM ${this.s}.database_leases WHERE database_id = $1 AND worker = $2`, [database, worker]);
  }

  async upstreamResults(job: JobRecord, tasks: readonly string[]): Promise<Record<string, JsonValue>> {
    const out: Record<string, JsonValue> = Object.fromEntries(tasks.map((t) => [t, null]));
    const rows = (
      await this.q(
        `SELECT DISTINCT ON (task_name) task_name, result FROM ${this.s}.jobs
         WHERE task_name = ANY($2) AND state IN ('succeeded', 'skipped') AND partition_key IN ($3, '${DEFAULT_PARTITION}')
         ORDER BY task_name, (run_id = $1) DESC, finished_at DESC`,
        [job.runId, [...tasks], job.partitionKey],
      )
    ).rows;
    for (const r of rows) out[String(r.task_name)] = (r.result as JsonValue | undefined) ?? null;
    return out;
  }

  async recordRegistration(database: string, snapshotId: string, now: Date): Promise<void> {
    await this.q(
      `INSERT INTO ${this.s}.registrations VALUES ($1, $2, $3)
       ON CONFLICT (database_id) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id, registered_at = EXCLUDED.registered_at`,
      [database, snapshotId, now],
    );
  }
}

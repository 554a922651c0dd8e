/**
 * The PostgreSQL ledger's recovery, cancelling and retrying: expired leases taken back, runs
 * cancelled or retried, failed jobs requeued across runs, and the counts of waiting jobs that
 * follow (unblocked, blocked or cancelled downstream).
 */
import type pg from 'pg';
import { PgHistory } from './pg-history.js';
import { type AttemptOutcome, type JobRecord, type RequeuedJob, type RetryFilter } from '../ledger.js';
import { POSTGRES_ROWS, jobFromRow, toDate, type Row } from '../rows.js';

type Client = pg.PoolClient;

export abstract class PgRetries extends PgHistory {
  /** Jobs cancelled while they ran, let go of by their worker (handed back, or lost with it): they end cancelled. */
  protected async endCancelled(c: Client, jobs: readonly JobRecord[], outcome: AttemptOutcome, now: Date): Promise<void> {
    if (jobs.length === 0) return;
    await c.query(
      `UPDATE ${this.s}.jobs SET state = 'cancelled', cancel_requested = false, lease_owner = NULL, lease_expires_at = NULL,
         finished_at = $2, updated_at = $2
       WHERE job_id = ANY($1)`,
      [jobs.map((j) => j.id), now],
    );
    for (const job of jobs) {
      const after: JobRecord = { ...job, state: 'cancelled', finishedAt: now, cancelRequested: false };
      await this.recordAttempt(c, after, job.leaseOwner ?? 'unknown', now, outcome, 'cancelled', [], { startedAt: job.startedAt });
      await this.recordHistory(c, after, [], now);
    }
  }

  async reapExpired(now: Date): Promise<number> {
    return this.tx(async (c) => {
      // A completion unblocks in a second transaction: one a crash cut short is finished here.
      const stuck = (await c.query(`SELECT job_id FROM ${this.s}.jobs WHERE state = 'blocked' AND waiting = 0 FOR UPDATE SKIP LOCKED`))
        .rows;
      if (stuck.length > 0)
        await this.unblock(
          c,
          stuck.map((r) => String(r.job_id)),
          now,
        );
      const rows = (
        await c.query(
          `SELECT * FROM ${this.s}.jobs WHERE state = 'processing' AND lease_expires_at <= $1 ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE SKIP LOCKED`,
          [now],
        )
      ).rows.map((r) => jobFromRow(r, POSTGRES_ROWS));
      if (rows.length === 0) return 0;
      const [stopped, back] = [rows.filter((j) => j.cancelRequested), rows.filter((j) => !j.cancelRequested)];
      for (const job of back)
        await this.recordAttempt(
          c,
          { ...job, state: 'pending', error: 'the worker holding it stopped' },
          job.leaseOwner ?? 'unknown',
          now,
          'lost',
          'pending',
          [],
          {
            startedAt: job.startedAt,
          },
        );
      await c.query(
        `UPDATE ${this.s}.jobs SET state = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, run_at = $2, updated_at = $2,
           error_message = 'the worker holding it stopped'
         WHERE job_id = ANY($1)`,
        [back.map((j) => j.id), now],
      );
      await this.endCancelled(c, stopped, 'lost', now);
      await c.query(`NOTIFY ${this.channel}`);
      return rows.length;
    });
  }

  async nextLeaseExpiry(): Promise<Date | undefined> {
    const row = (await this.q(`SELECT min(lease_expires_at) AS next FROM ${this.s}.jobs WHERE state = 'processing'`)).rows[0];
    return toDate(row?.next) ?? undefined;
  }

  async cancelRun(runId: string, reason: string, now: Date): Promise<JobRecord[]> {
    return this.tx(async (c) => {
      // In flight: its worker stops it at its next heartbeat, and until then its key stays taken.
      const running = await c.query(
        `UPDATE ${this.s}.jobs SET cancel_requested = true, error_message = $2 WHERE run_id = $1 AND state = 'processing' RETURNING *`,
        [runId, reason],
      );
      const waiting = await c.query(
        `UPDATE ${this.s}.jobs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = $2, updated_at = $2, error_message = $3
         WHERE run_id = $1 AND state NOT IN ('succeeded', 'dead', 'skipped', 'cancelled', 'processing') RETURNING *`,
        [runId, now, reason],
      );
      return [...running.rows, ...waiting.rows].map((r) => jobFromRow(r, POSTGRES_ROWS)).sort((a, b) => (a.task < b.task ? -1 : 1));
    });
  }

  async retryRun(runId: string, now: Date, snapshotId: string): Promise<number> {
    return this.tx(async (c) => {
      await c.query(`UPDATE ${this.s}.runs SET snapshot_id = $2 WHERE run_id = $1`, [runId, snapshotId]);
      const n = (
        await c.query(
          `UPDATE ${this.s}.jobs SET state = 'pending', attempts = 0, run_at = $2, updated_at = $2, started_at = NULL, finished_at = NULL,
             error_message = NULL, error_context = NULL, lease_owner = NULL, lease_expires_at = NULL, cancel_requested = false
           WHERE run_id = $1 AND state IN ('failed', 'dead', 'skipped', 'blocked', 'cancelled')`,
          [runId, now],
        )
      ).rowCount;
      await this.recountWaiting(c, runId);
      await c.query(`NOTIFY ${this.channel}`);
      return n ?? 0;
    });
  }

  async retryJobs(filter: RetryFilter, now: Date): Promise<RequeuedJob[]> {
    const params: unknown[] = [[...filter.states]];
    const where = ['state = ANY($1)'];
    if (filter.task !== undefined) where.push(`task_name = $${params.push(filter.task)}`);
    if (filter.since !== undefined) where.push(`updated_at >= $${params.push(filter.since)}`);
    if (filter.minAttempts !== undefined) where.push(`attempts >= $${params.push(filter.minAttempts)}`);
    if (filter.dag !== undefined) where.push(`dag_name = $${params.push(filter.dag)}`);
    const columns = `job_id, run_id, task_name, partition_key, (SELECT r.snapshot_id FROM ${this.s}.runs r WHERE r.run_id = j.run_id) AS snapshot_id`;
    const requeued = (rows: Row[]) =>
      rows.map((r): RequeuedJob => ({
        id: String(r.job_id),
        runId: String(r.run_id),
        task: String(r.task_name),
        partitionKey: String(r.partition_key),
        snapshotId: (r.snapshot_id as string | null) ?? null,
      }));
    if (filter.dryRun) return requeued((await this.q(`SELECT ${columns} FROM ${this.s}.jobs j WHERE ${where.join(' AND ')}`, params)).rows);
    return this.tx(async (c) => {
      const at = `$${params.push(now)}`;
      const { rows } = await c.query(
        `UPDATE ${this.s}.jobs j SET state = 'pending', attempts = 0, run_at = ${at}, updated_at = ${at}, started_at = NULL, finished_at = NULL,
           error_message = NULL, error_context = NULL
         WHERE ${where.join(' AND ')} RETURNING ${columns}`,
        params,
      );
      if (rows.length > 0) await c.query(`NOTIFY ${this.channel}`);
      return requeued(rows);
    });
  }

  /** `waiting` from scratch: the upstream jobs of the run not succeeded or skipped. */
  protected async recountWaiting(c: Client, runId: string): Promise<void> {
    await c.query(
      `WITH unfinished AS (
         SELECT d AS job_id, count(*) AS n FROM ${this.s}.jobs u, unnest(u.downstream) AS d
         WHERE u.run_id = $1 AND u.state NOT IN ('succeeded', 'skipped') GROUP BY d
       )
       UPDATE ${this.s}.jobs j SET waiting = coalesce((SELECT n FROM unfinished WHERE unfinished.job_id = j.job_id), 0)
       WHERE j.run_id = $1`,
      [runId],
    );
  }

  /** A job succeeded or was skipped: its downstream jobs wait for one fewer, and blocked ones come back. */
  protected async satisfied(c: Client, job: JobRecord, now: Date): Promise<void> {
    const down = (
      await c.query(
        `UPDATE ${this.s}.jobs SET waiting = waiting - 1
         WHERE job_id IN (SELECT unnest(downstream) FROM ${this.s}.jobs WHERE job_id = $1) AND state IN ('pending', 'failed', 'blocked')
         RETURNING job_id, state, waiting`,
        [job.id],
      )
    ).rows;
    const unblock = down.filter((d) => d.state === 'blocked' && Number(d.waiting) === 0).map((d) => String(d.job_id));
    if (unblock.length > 0) await this.unblock(c, unblock, now);
    if (down.some((d) => Number(d.waiting) === 0)) await c.query(`NOTIFY ${this.channel}`);
  }

  /**
   * Blocked jobs whose upstream jobs are all done again (`waiting` back to 0) are pending; what
   * they blocked in turn waits for them and comes back as they succeed.
   */
  protected async unblock(c: Client, jobIds: readonly string[], now: Date): Promise<void> {
    await c.query(
      `UPDATE ${this.s}.jobs SET state = 'pending', run_at = $2, updated_at = $2, error_message = NULL, error_context = NULL
       WHERE job_id = ANY($1) AND state = 'blocked' AND waiting = 0`,
      [[...jobIds], now],
    );
    await c.query(`NOTIFY ${this.channel}`);
  }

  /** Blocks or cancels everything downstream of a job that will not succeed in this run. */
  protected async cascade(c: Client, job: JobRecord, to: 'blocked' | 'cancelled', reason: string, now: Date): Promise<JobRecord[]> {
    const waitingStates = to === 'blocked' ? `('pending', 'failed')` : `('pending', 'failed', 'blocked')`;
    const rows = (
      await c.query(
        `WITH RECURSIVE down(job_id) AS (
           SELECT unnest(downstream) FROM ${this.s}.jobs WHERE job_id = $1
           UNION
           SELECT unnest(d.downstream) FROM ${this.s}.jobs d JOIN down USING (job_id) WHERE d.state IN ${waitingStates}
         )
         , locked AS MATERIALIZED (
           SELECT job_id FROM ${this.s}.jobs WHERE job_id = ANY(ARRAY(SELECT job_id FROM down)) ORDER BY job_id FOR UPDATE
         )
         UPDATE ${this.s}.jobs SET state = $2, updated_at = $3, error_message = $4 ${to === 'cancelled' ? ', finished_at = $3' : ''}
         WHERE job_id IN (SELECT job_id FROM locked) AND state IN ${waitingStates} RETURNING *`,
        [job.id, to, now, reason],
      )
    ).rows.map((r) => jobFromRow(r, POSTGRES_ROWS));
    for (const d of rows) await this.recordHistory(c, d, [], now);
    return rows.sort((a, b) => (a.task < b.task ? -1 : 1));
  }
}

/**
 * The embedded ledger's recovery when a process opens the file after one that died: successes
 * committed with their data but not yet written to the job rows are folded in, and jobs the dead
 * process held go back to pending with a `lost` attempt.
 */
import type { JobRecord, JsonValue } from '../ledger.js';
import { toDate, toNumber } from '../rows.js';
import { ATTEMPT_TYPES } from './ledger-rows.js';
import { DuckDbQueue } from './ledger-queue.js';

export abstract class DuckDbRecovery extends DuckDbQueue {
  /** Whether a job of an unfinished run is processing (jobs are appended in time order: only the unfinished runs' row groups are read). */
  protected async anyProcessing(): Promise<boolean> {
    const [[n]] = (
      await this.conn.runAndReadAll(
        `SELECT count(*) FROM __orch__.jobs WHERE state = 'processing'
           AND created_at >= (SELECT min(created_at) FROM __orch__.pipeline_runs WHERE finished_at IS NULL)`,
      )
    ).getRows() as [[bigint]];
    return Number(n) > 0;
  }

  /**
   * After a crash: successes committed with their data but not yet written to the job rows are
   * folded in, and jobs the dead process held go back to pending with a `lost` attempt.
   */
  protected async recover(now: Date): Promise<void> {
    const structure = JSON.stringify(ATTEMPT_TYPES);
    const unfolded = (
      await this.conn.runAndReadAll(`SELECT unnest(r) FROM (SELECT from_json(record, '${structure}') AS r FROM __orch__.ledger_journal)`)
    )
      .getRowObjectsJS()
      .sort((x, y) => Number(x.attempt_seq) - Number(y.attempt_seq));
    // Nothing to fold and nothing left processing: the unfinished jobs stay on disk until a worker
    // needs them (a backlog of 100,000 is not loaded by a command that only reads).
    if (unfolded.length === 0 && !(await this.anyProcessing())) return;
    const active = await this.loadActive(now);
    for (const a of unfolded) {
      this.journalled.add(String(a.job_id));
      // Written by an earlier version, the run itself may have been recorded finished meanwhile.
      await this.bringBack(String(a.pipeline_run_id), now);
    }
    for (const a of unfolded) {
      const job = active.jobs.get(String(a.job_id));
      if (!job || job.state === 'succeeded') continue;
      this.assign(job, {
        state: 'succeeded',
        attempts: Number(a.attempt),
        leaseOwner: null,
        leaseExpiresAt: null,
        startedAt: toDate(a.started_at),
        finishedAt: toDate(a.finished_at),
        rows: toNumber(a.rows_count),
        result: a.result_json ? (JSON.parse(String(a.result_json)) as JsonValue) : null,
        watermark: (a.last_processed_at as string | null) ?? null,
        error: null,
        errorContext: null,
        codeVersion: (a.code_version as string | null) ?? null,
      } satisfies Partial<JobRecord>);
      this.unready(job.id);
      this.dirtyJobs.set(job.id, job);
      this.settle(job, ((a.assets as string[] | null) ?? []).map(String), now);
    }
    // This process holds the database file alone: whatever is still processing was held by a process that died.
    for (const job of active.jobs.values()) if (job.state === 'processing') this.loseAttempt(job, now);
    await this.flush();
  }
}

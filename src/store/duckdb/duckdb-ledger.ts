/**
 * The embedded ledger: runs, jobs and attempts in the `__orch__` schema of the project's DuckDB
 * file. DuckDB lets one process write a file at a time, so the process holding it is the only
 * writer: the unfinished jobs are kept in memory (claims cost O(ready jobs), readiness follows
 * each completion at once) and their rows are written in batches — except a task's success,
 * whose attempt row is appended inside the task's own transaction, so that the data and the
 * record of it commit together. A DuckDB statement costs about a millisecond, so this keeps one
 * cheap append on a task's path instead of five updates.
 *
 * After a crash nothing of the committed work is lost: `recover` folds successes that were
 * committed but not yet written to the job rows, and returns jobs left `processing` by the dead
 * process to `pending`, keeping their attempt's real start time.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { listValue } from '../../duckdb-api.js';
import { DuckorchError } from '../../errors.js';
import { FINAL_STATES, type JobEvent } from '../../model/jobs/job-state.js';
import {
  DEFAULT_PARTITION,
  type ClaimOptions,
  type ClaimedJob,
  type Completion,
  type DatabaseLease,
  type DueFilter,
  type FailureOutcome,
  type HeartbeatResult,
  type JobRecord,
  type Ledger,
  type NewRun,
  type RequeuedJob,
  type RetryFilter,
  type RunRecord,
  type RunMetadata,
  type SuccessOutcome,
  assertDistinctRunIds,
  duplicateRun,
  enqueuedRunRecord,
} from '../ledger.js';
import type { DataTransaction } from '../ledger.js';
import { type Row } from '../rows.js';
import { DuckDbRecovery } from './ledger-recovery.js';
import { commitSql, inTransaction, insertRows, stringLiteral } from './sql-util.js';
import {
  type AttemptRow,
  JOB_COLUMNS,
  SHAPE_TYPES,
  TEMPLATE_TYPES,
  RUNS_OF_DAG,
  jobRow,
  attemptRow,
  fromRunRow,
  newJobs,
} from './ledger-rows.js';

export class DuckDbLedger extends DuckDbRecovery implements Ledger {
  private constructor(
    protected readonly conn: DuckDBConnection,
    /** Reads go through their own connection, so they never wait for a flush nor join its transaction. */
    protected readonly reader: DuckDBConnection,
  ) {
    super();
  }

  /** Opens the ledger on its own two connections (writing, reading); `recover` when this process may write. */
  static async open(
    conn: DuckDBConnection,
    reader: DuckDBConnection,
    options: { recover: boolean; now: Date; pageSize?: number },
  ): Promise<DuckDbLedger> {
    const ledger = new DuckDbLedger(conn, reader);
    if (options.pageSize !== undefined) ledger.pageSize = options.pageSize;
    const max = (
      await conn.runAndReadAll(
        `SELECT greatest((SELECT coalesce(max(attempt_seq), 0) FROM __orch__.attempts),
                         (SELECT coalesce(max(CAST(record::JSON ->> 'attempt_seq' AS BIGINT)), 0) FROM __orch__.ledger_journal))`,
      )
    ).getRows()[0]![0];
    ledger.nextSeq = Number(max) + 1;
    if (options.recover) await ledger.recover(options.now);
    return ledger;
  }

  // ---------------------------------------------------------------- runs and jobs

  async enqueueRun(run: NewRun, now: Date): Promise<RunRecord> {
    await this.loadActive(now);
    // A large run of independent jobs (a backfill) is kept in memory a page at a time, read back
    // in plan order: its job ids sort in that order.
    const paged = run.jobs.length > this.pageSize && run.jobs.every((j) => j.upstream.length === 0);
    const prefix = randomUUID().slice(0, 24);
    const jobs = paged ? newJobs(run, now, (pos) => prefix + pos.toString(16).padStart(12, '0')) : newJobs(run, now);
    const record = enqueuedRunRecord(run, now);
    await this.exclusive(() =>
      inTransaction(this.conn, async () => {
        const taken = await this.conn.runAndReadAll('SELECT 1 FROM __orch__.pipeline_runs WHERE pipeline_run_id = $1', [record.id]);
        if (taken.currentRowCount > 0) throw duplicateRun(record.id);
        await this.conn.run(
          `INSERT INTO __orch__.pipeline_runs (pipeline_run_id, snapshot_id, trigger, selector, inputs_json, state, created_at, started_at,
             finished_at, task_count, job_counts_json, planned_tasks, dag_name, metadata_json)
           VALUES ($1, $2, $3, $4, $5, $6, $7::TIMESTAMP, NULL, $8::TIMESTAMP, $9, $10, $11::VARCHAR[], $12, $13)`,
          [
            record.id,
            record.snapshotId,
            record.trigger,
            record.selector,
            JSON.stringify(record.inputs),
            record.state,
            now.toISOString(),
            record.finishedAt?.toISOString() ?? null,
            jobs.length,
            JSON.stringify(record.counts),
            listValue(record.tasks),
            record.dag,
            JSON.stringify(record.metadata),
          ],
        );
        await insertRows(this.conn, 'jobs', JOB_COLUMNS, jobs, (j, i) => jobRow(j, run.jobs[i]!.database ?? null));
      }),
    );
    const first = paged ? jobs.slice(0, this.pageSize) : jobs;
    this.adopt(
      record,
      first,
      now,
      run.jobs.slice(0, first.length).map((j) => j.database ?? null),
      paged ? { counts: { ...record.counts }, after: first.at(-1)!.id, left: jobs.length - first.length } : undefined,
    );
    return { ...record, counts: { ...record.counts } };
  }

  async enqueueRuns(runs: readonly NewRun[], now: Date): Promise<RunRecord[]> {
    if (runs.length === 0) return [];
    assertDistinctRunIds(runs);
    await this.loadActive(now);
    // What runs of a batch share is sent once: each distinct list of jobs as a plan, each
    // distinct set of run fields as a shape. A run is then its id, its inputs, its shape and the
    // sequence number of its first job, and DuckDB makes the rows of both tables itself, a job's
    // id being the batch's prefix and its sequence number (as the jobs kept in memory have it).
    const prefix = randomUUID().slice(0, 24);
    const jobId = (seq: number) => prefix + seq.toString(16).padStart(12, '0');
    const plans = new Map<NewRun['jobs'], { plan: number; tasks: string[] }>();
    const templates: Row[] = [];
    const shapes = new Map<string, Row>();
    // Runs of one batch usually share one metadata object: written once.
    const metadataJson = new Map<RunMetadata | undefined, string>();
    let first = 0;
    const planned = runs.map((run) => {
      let known = plans.get(run.jobs);
      if (!known) {
        plans.set(run.jobs, (known = { plan: plans.size, tasks: [...new Set(run.jobs.map((j) => j.task))] }));
        run.jobs.forEach((j, pos) =>
          templates.push({
            plan: known!.plan,
            pos,
            task: j.task,
            part: j.partitionKey ?? DEFAULT_PARTITION,
            attempts: Math.max(1, j.maxAttempts),
            up: j.upstream,
            db: j.database ?? null,
          }),
        );
      }
      const start = first;
      const jobs = newJobs(run, now, (pos) => jobId(start + pos));
      first += jobs.length;
      const record = enqueuedRunRecord(run, now);
      let meta = metadataJson.get(run.metadata);
      if (meta === undefined) metadataJson.set(run.metadata, (meta = JSON.stringify(record.metadata)));
      const key = [known.plan, record.snapshotId, record.trigger, record.selector, record.dag, meta].join('\u0000');
      let shape = shapes.get(key);
      if (!shape)
        shapes.set(
          key,
          (shape = {
            shape: shapes.size,
            plan: known.plan,
            snap: record.snapshotId,
            trig: record.trigger,
            sel: record.selector,
            state: record.state,
            n: jobs.length,
            counts: JSON.stringify(record.counts),
            tasks: known.tasks,
            dag: record.dag,
            meta,
          }),
        );
      return { run, jobs, record, shape: shape.shape as number, first: start };
    });
    const ts = now.toISOString();
    // Each column a JSON array, parsed by DuckDB at once (binding a list costs a call per value).
    const batch = `(SELECT unnest(from_json($2::JSON, '["VARCHAR"]')) AS id, unnest(from_json($3::JSON, '["INTEGER"]')) AS shape,
        unnest(from_json($4::JSON, '["BIGINT"]')) AS first, unnest(from_json($5::JSON, '["JSON"]'))::VARCHAR AS inputs) r
      JOIN (SELECT unnest(from_json($6::JSON, '${SHAPE_TYPES}')) AS s) s ON s.s.shape = r.shape`;
    const params = [
      ts,
      JSON.stringify(planned.map((p) => p.record.id)),
      JSON.stringify(planned.map((p) => p.shape)),
      JSON.stringify(planned.map((p) => p.first)),
      JSON.stringify(planned.map((p) => p.record.inputs)),
      JSON.stringify([...shapes.values()]),
    ];
    await this.exclusive(() =>
      inTransaction(this.conn, async () => {
        try {
          await this.conn.run(
            `INSERT INTO __orch__.pipeline_runs (pipeline_run_id, snapshot_id, trigger, selector, inputs_json, state, created_at, started_at,
               finished_at, task_count, job_counts_json, planned_tasks, dag_name, metadata_json)
             SELECT r.id, s.s.snap, s.s.trig, s.s.sel, r.inputs, s.s.state, $1::TIMESTAMP, NULL, CASE WHEN s.s.n = 0 THEN $1::TIMESTAMP END,
               s.s.n, s.s.counts, s.s.tasks, s.s.dag, s.s.meta
             FROM ${batch}`,
            params,
          );
        } catch (err) {
          // A run id taken already: the transaction is rolled back whole.
          const taken = /Duplicate key "pipeline_run_id: ([^"]*)"/.exec(err instanceof Error ? err.message : '');
          throw taken ? duplicateRun(taken[1]!) : err;
        }
        if (first > 0)
          await this.conn.run(
            `INSERT INTO __orch__.jobs (job_id, pipeline_run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at,
               updated_at, upstream, cancel_requested, database_id)
             SELECT $7 || lpad(lower(hex(r.first + t.t.pos)), 12, '0'), r.id, t.t.task, t.t.part, 'pending', 0, t.t.attempts, $1::TIMESTAMP,
               $1::TIMESTAMP, $1::TIMESTAMP, t.t.up, false, t.t.db
             FROM ${batch} JOIN (SELECT unnest(from_json($8::JSON, '${TEMPLATE_TYPES}')) AS t) t ON t.t.plan = s.s.plan`,
            [...params, prefix, JSON.stringify(templates)],
          );
      }),
    );
    for (const { run, jobs, record } of planned)
      this.adopt(
        record,
        jobs,
        now,
        run.jobs.map((j) => j.database ?? null),
      );
    return planned.map(({ record }) => ({ ...record, counts: { ...record.counts } }));
  }

  async claim(o: ClaimOptions): Promise<ClaimedJob[]> {
    const active = await this.loadActive(o.now);
    if (this.paging.size > 0) await this.refillPages(o.now);
    // A Map keeps a deleted entry's slot until it is rebuilt, and every claim iterates from the
    // start: once the holes outnumber the entries, a copy without them keeps a claim O(limit).
    if (this.readyHoles > active.ready.size + 1024) {
      active.ready = new Map(active.ready);
      this.readyHoles = 0;
    }
    const claimed: ClaimedJob[] = [];
    for (const job of active.ready.values()) {
      if (claimed.length >= o.limit) break;
      if (o.runId !== undefined && job.runId !== o.runId) continue;
      if (o.tasks !== undefined && !o.tasks.has(job.task)) continue;
      if (job.runAt.getTime() > o.now.getTime()) continue;
      if (o.dag !== undefined && active.runs.get(job.runId)!.record.dag !== o.dag) continue;
      if (this.heldBack(job)) continue;
      this.apply(job, { type: 'claim', worker: o.worker, leaseMs: o.leaseMs }, o.now);
      this.unready(job.id);
      const run = active.runs.get(job.runId)!;
      if (run.record.startedAt === null) run.record.startedAt = o.now;
      this.touchRun(run.record.id, o.now);
      claimed.push({ ...job, snapshotId: run.record.snapshotId ?? '', runInputs: run.record.inputs, database: null });
    }
    return claimed;
  }

  async nextDue({ runId, tasks, dag }: DueFilter = {}): Promise<Date | undefined> {
    // One database by construction: `databases` filters nothing here.
    let next: Date | undefined;
    for (const j of this.active?.ready.values() ?? []) {
      if (
        (runId !== undefined && j.runId !== runId) ||
        (tasks !== undefined && !tasks.has(j.task)) ||
        (dag !== undefined && this.active!.runs.get(j.runId)?.record.dag !== dag)
      )
        continue;
      // Held back by another job of its task and partition: due when that one's lease runs out at
      // the latest (its end wakes the workers sooner).
      const holder = this.heldBack(j);
      const due = holder?.leaseExpiresAt && holder.leaseExpiresAt > j.runAt ? holder.leaseExpiresAt : j.runAt;
      if (next === undefined || due < next) next = due;
    }
    // Waiting jobs not read yet are due now: the next claim reads them.
    for (const run of this.paging)
      if ((runId === undefined || run.record.id === runId) && (dag === undefined || run.record.dag === dag)) {
        if (next === undefined || run.record.createdAt < next) next = run.record.createdAt;
      }
    return next;
  }

  /** The job of the same task and partition that is processing, when `job` writes data and must wait for it. */
  private heldBack(job: JobRecord): JobRecord | undefined {
    const key = this.writerKeys.get(job.id);
    const holder = key === undefined ? undefined : this.busyKeys.get(key);
    return holder === undefined || holder === job.id ? undefined : this.active?.jobs.get(holder);
  }

  async heartbeat(worker: string, jobIds: readonly string[], leaseMs: number, now: Date): Promise<HeartbeatResult> {
    const lost: string[] = [];
    const cancelled: string[] = [];
    for (const id of jobIds) {
      const job = this.active?.jobs.get(id);
      if (!job || job.state !== 'processing' || job.leaseOwner !== worker) lost.push(id);
      else {
        // In memory only: this process holds the file alone, and whoever opens it next treats every
        // job still processing as its holder's, whatever the lease said.
        Object.assign(job, this.after(job, { type: 'heartbeat', worker, leaseMs }, now));
        if (job.cancelRequested) cancelled.push(id);
      }
    }
    return { lost, cancelled };
  }

  async completeAndClaim(
    worker: string,
    completions: readonly Completion[],
    now: Date,
    next: ClaimOptions,
  ): Promise<{ claimed: ClaimedJob[]; lost: string[] }> {
    // In memory every step is cheap: nothing to gain by fusing them.
    const lost: string[] = [];
    for (const { job, outcome } of completions)
      await this.complete(job, worker, outcome, now).catch((err: unknown) => {
        if (!(err instanceof DuckorchError && err.code === 'LEASE_LOST')) throw err;
        lost.push(job.id);
      });
    return { claimed: lost.length === completions.length ? [] : await this.claim(next), lost };
  }

  async complete(claimed: ClaimedJob, worker: string, outcome: SuccessOutcome, now: Date, tx?: DataTransaction): Promise<void> {
    const job = this.held(claimed.id, worker);
    const next: JobRecord = {
      ...job,
      ...this.after(job, { type: 'succeed', worker }, now),
      rows: outcome.rows,
      result: outcome.result,
      watermark: outcome.watermark,
      codeVersion: outcome.codeVersion,
      errorContext: null,
    };
    const attempt: AttemptRow = {
      seq: this.nextSeq++,
      job: next,
      attempt: job.attempts,
      worker,
      startedAt: job.startedAt ?? now,
      finishedAt: now,
      outcome: 'succeeded',
      assets: outcome.assets,
    };
    if (tx) {
      // One narrow row and the commit in one round trip; the flush moves it into `attempts`.
      const record = JSON.stringify(attemptRow(attempt));
      await tx.connection.run(commitSql(tx, `INSERT INTO __orch__.ledger_journal VALUES (${stringLiteral(record)})`));
      this.journalled.add(job.id);
    } else {
      this.bufferedAttempts.push(attempt);
    }
    this.assign(job, next);
    this.dirtyJobs.set(job.id, job);
    this.settle(job, outcome.assets, now);
  }

  async fail(
    claimed: ClaimedJob,
    worker: string,
    failure: FailureOutcome,
    now: Date,
  ): Promise<{ job: JobRecord; downstream: JobRecord[] }> {
    const job = this.held(claimed.id, worker);
    if (failure.maxAttempts !== undefined) job.maxAttempts = Math.max(1, failure.maxAttempts);
    const downstream = this.collect();
    const startedAt = job.startedAt ?? now;
    const attempt = job.attempts;
    const event: JobEvent = failure.cancelled
      ? // Stopped because someone cancelled it: their reason stays the job's.
        { type: 'cancel', reason: job.cancelRequested && job.error !== null ? job.error : failure.error }
      : { type: 'fail', worker, error: failure.error, retryable: failure.retryable, retryDelayMs: failure.retryDelayMs };
    this.apply(job, event, now);
    job.errorContext = failure.errorContext;
    job.codeVersion = failure.codeVersion;
    this.bufferedAttempts.push({
      seq: this.nextSeq++,
      job: { ...job },
      attempt,
      worker,
      startedAt,
      finishedAt: now,
      outcome: failure.cancelled ? 'cancelled' : 'failed',
      assets: failure.assets,
    });
    if (job.state === 'failed') this.active!.ready.set(job.id, job);
    else this.settle(job, failure.assets, now);
    this.cascade = undefined;
    return { job: { ...job }, downstream: downstream.map((d) => ({ ...d })) };
  }

  /** Starts collecting the downstream jobs that the current change blocks or cancels. */
  private collect(): JobRecord[] {
    this.cascade = [];
    return this.cascade;
  }

  async skip(claimed: ClaimedJob, worker: string, reason: string, now: Date): Promise<void> {
    const job = this.held(claimed.id, worker);
    this.apply(job, { type: 'skip', reason }, now);
    this.unready(job.id);
    this.settle(job, [], now);
  }

  async release(worker: string, jobIds: readonly string[], now: Date): Promise<void> {
    for (const id of jobIds) {
      const job = this.active?.jobs.get(id);
      if (!job || job.state !== 'processing' || job.leaseOwner !== worker) continue;
      const { attempts, startedAt } = job;
      this.apply(job, { type: 'release', worker }, now);
      this.bufferedAttempts.push({
        seq: this.nextSeq++,
        job: { ...job },
        attempt: attempts,
        worker,
        startedAt: startedAt ?? now,
        finishedAt: now,
        outcome: 'released',
        assets: [],
      });
      this.afterStopped(job, now);
    }
    await this.flush();
  }

  async reapExpired(now: Date): Promise<number> {
    let n = 0;
    for (const job of this.active?.jobs.values() ?? []) {
      if (job.state !== 'processing' || job.leaseExpiresAt === null || job.leaseExpiresAt > now) continue;
      this.loseAttempt(job, now);
      n++;
    }
    return n;
  }

  async nextLeaseExpiry(): Promise<Date | undefined> {
    let next: Date | undefined;
    for (const job of this.active?.jobs.values() ?? [])
      if (job.state === 'processing' && job.leaseExpiresAt !== null && (next === undefined || job.leaseExpiresAt < next))
        next = job.leaseExpiresAt;
    return next;
  }

  async cancelRun(runId: string, reason: string, now: Date): Promise<JobRecord[]> {
    const active = await this.loadActive(now);
    const run = active.runs.get(runId);
    if (!run) return [];
    // A page being read joins the jobs in memory first.
    await run.page?.loading;
    const cancelled: JobRecord[] = [];
    for (const id of run.jobs) {
      const job = active.jobs.get(id)!;
      if (FINAL_STATES.has(job.state)) continue;
      if (job.state === 'processing') {
        // Its worker stops it at its next heartbeat; until then nothing else of its key starts.
        this.apply(job, { type: 'requestCancel', reason }, now);
        cancelled.push({ ...job });
        continue;
      }
      this.unready(job.id);
      this.apply(job, { type: 'cancel', reason }, now);
      this.settle(job, [], now, false);
      cancelled.push({ ...job });
    }
    const page = run.page;
    if (page && page.left > 0) {
      // Waiting jobs not read yet are cancelled where they are, and counted so; no page is read after.
      const left = page.left;
      page.left = 0;
      this.paging.delete(run);
      await this.exclusive(() =>
        this.conn.run(
          `UPDATE __orch__.jobs SET state = 'cancelled', finished_at = $3::TIMESTAMP, updated_at = $3::TIMESTAMP, error_message = $4
           WHERE pipeline_run_id = $1 AND state = 'pending' AND job_id > $2`,
          [runId, page.after, now.toISOString(), reason],
        ),
      );
      const counts = run.record.counts;
      counts.pending = (counts.pending ?? 0) - left;
      if (counts.pending === 0) delete counts.pending;
      counts.cancelled = (counts.cancelled ?? 0) + left;
    }
    this.touchRun(runId, now);
    await this.flush();
    return cancelled;
  }

  async retryRun(runId: string, now: Date, snapshotId: string): Promise<number> {
    await this.flush();
    const active = await this.loadActive(now);
    if (!(await this.bringBack(runId, now))) return 0;
    const run = active.runs.get(runId)!;
    const jobs = [...run.jobs].map((id) => active.jobs.get(id)!);
    let n = 0;
    for (const job of jobs) {
      if (job.state === 'pending' || job.state === 'processing' || job.state === 'succeeded') continue;
      this.apply(job, { type: 'retry' }, now);
      n++;
    }
    run.record.finishedAt = null;
    run.record.snapshotId = snapshotId;
    await this.exclusive(() =>
      this.conn.run('UPDATE __orch__.pipeline_runs SET snapshot_id = $2 WHERE pipeline_run_id = $1', [runId, snapshotId]),
    );
    for (const job of jobs) this.refreshReadiness(job, now);
    this.touchRun(runId, now);
    await this.flush();
    return n;
  }

  /** One process holds the file, so it holds its one database: nothing to coordinate. */
  async holdDatabase(database: string, worker: string, leaseMs: number, now: Date): Promise<DatabaseLease> {
    return { database, worker, expiresAt: new Date(now.getTime() + leaseMs) };
  }

  async releaseDatabase(): Promise<void> {
    // Nothing is held outside this process.
  }

  async subscribe(listener: () => void): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return async () => {
      this.listeners.delete(listener);
    };
  }

  async retryJobs(filter: RetryFilter, now: Date): Promise<RequeuedJob[]> {
    await this.flush();
    const active = await this.loadActive(now);
    const params: DuckDBValue[] = [listValue([...filter.states])];
    const where = ['state IN (SELECT unnest($1::VARCHAR[]))'];
    if (filter.task !== undefined) where.push(`task_name = $${params.push(filter.task)}`);
    if (filter.since !== undefined) where.push(`updated_at >= $${params.push(filter.since.toISOString())}::TIMESTAMP`);
    if (filter.minAttempts !== undefined) where.push(`attempts >= $${params.push(filter.minAttempts)}`);
    if (filter.dag !== undefined) where.push(`pipeline_run_id IN (${RUNS_OF_DAG}$${params.push(filter.dag)})`);
    const found = (
      await this.reader.runAndReadAll(
        `SELECT job_id, pipeline_run_id, task_name, partition_key,
           (SELECT snapshot_id FROM __orch__.pipeline_runs p WHERE p.pipeline_run_id = j.pipeline_run_id)
         FROM __orch__.jobs j WHERE ${where.join(' AND ')}`,
        params,
      )
    )
      .getRows()
      .map(([id, runId, task, partitionKey, snapshotId]): RequeuedJob => ({
        id: String(id),
        runId: String(runId),
        task: String(task),
        partitionKey: String(partitionKey),
        snapshotId: snapshotId === null ? null : String(snapshotId),
      }));
    if (filter.dryRun) return found;
    // Their runs come back into memory, finished or not, so that their downstream jobs follow.
    for (const runId of new Set(found.map((r) => r.runId))) await this.bringBack(runId, now);
    const requeued = found.filter((r) => {
      const job = active.jobs.get(r.id);
      if (!job || !(filter.states as readonly string[]).includes(job.state)) return false;
      this.apply(job, { type: 'retry' }, now);
      this.refreshReadiness(job, now);
      return true;
    });
    await this.flush();
    return requeued;
  }

  async recordRegistration(): Promise<void> {
    // The registry is in this same file: runs are compared with it directly.
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const live = this.active?.runs.get(id);
    if (live) return { ...live.record, counts: { ...live.record.counts } };
    await this.flush();
    const row = (
      await this.reader.runAndReadAll('SELECT * FROM __orch__.pipeline_runs WHERE pipeline_run_id = $1', [id])
    ).getRowObjectsJS()[0];
    return row ? fromRunRow(row) : undefined;
  }
}

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
import { FINAL_STATES, SATISFYING_STATES, readiness, runState, transition, type JobEvent } from '../../model/jobs/job-state.js';
import {
  DEFAULT_PARTITION,
  type ClaimOptions,
  type ClaimedJob,
  type CheckResultRecord,
  type Completion,
  type DatabaseLease,
  type DueFilter,
  type FailureOutcome,
  type HeartbeatResult,
  type JobRecord,
  type JsonValue,
  type Ledger,
  type NewRun,
  type RequeuedJob,
  type RetryFilter,
  type RunRecord,
  type RunMetadata,
  type StoredPartitionRanges,
  type SuccessOutcome,
  assertDistinctRunIds,
  duplicateRun,
  enqueuedRunRecord,
} from '../ledger.js';
import type { DataTransaction } from '../ledger.js';
import { CHECK_RESULT_COLUMNS, checkResultValues, toDate, toNumber, type Row } from '../rows.js';
import { DuckDbWrites } from './ledger-writes.js';
import { commitSql, inTransaction, insertRows, stringLiteral } from './sql-util.js';
import {
  type AttemptRow,
  type ActiveRun,
  CHECK_RESULT_TYPES,
  JOB_COLUMNS,
  SHAPE_TYPES,
  TEMPLATE_TYPES,
  ATTEMPT_TYPES,
  RUNS_OF_DAG,
  key,
  toJob,
  jobRow,
  attemptRow,
  fromRunRow,
  type RunJson,
  RUN_JSON,
  runFromJson,
  type JobJson,
  JOB_JSON,
  jobFromJson,
  newJobs,
} from './ledger-rows.js';

export class DuckDbLedger extends DuckDbWrites implements Ledger {
  /** Unfinished runs and their jobs, loaded on first use by a worker. */
  private active: { runs: Map<string, ActiveRun>; jobs: Map<string, JobRecord>; ready: Map<string, JobRecord> } | undefined;
  private nextSeq = 0;
  /** While set, collects the jobs a change blocks or cancels downstream. */
  private cascade: JobRecord[] | undefined;
  /** `task\0partition` of the jobs that write data (SQL tasks and assets), by job id: at most one of a key runs at a time. */
  private readonly writerKeys = new Map<string, string>();
  /** The key of each writing job being processed, and that job's id. */
  private readonly busyKeys = new Map<string, string>();

  private constructor(
    protected readonly conn: DuckDBConnection,
    /** Reads go through their own connection, so they never wait for a flush nor join its transaction. */
    protected readonly reader: DuckDBConnection,
  ) {
    super();
  }

  /** Opens the ledger on its own two connections (writing, reading); `recover` when this process may write. */
  static async open(conn: DuckDBConnection, reader: DuckDBConnection, options: { recover: boolean; now: Date }): Promise<DuckDbLedger> {
    const ledger = new DuckDbLedger(conn, reader);
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
    const jobs = newJobs(run, now);
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
    this.adopt(
      record,
      jobs,
      now,
      run.jobs.map((j) => j.database ?? null),
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

  /** Takes a job out of the ready set. */
  private unready(id: string): void {
    if (this.active!.ready.delete(id)) this.readyHoles++;
  }

  /** Entries deleted from the ready set since it was last rebuilt. */
  private readyHoles = 0;

  async claim(o: ClaimOptions): Promise<ClaimedJob[]> {
    const active = await this.loadActive(o.now);
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
      const record = JSON.stringify(attemptRow(attempt), (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v));
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

  /** A job its worker let go of without an outcome: waiting again, or cancelled when that was asked meanwhile. */
  private afterStopped(job: JobRecord, now: Date): void {
    if (job.state === 'cancelled') {
      this.unready(job.id);
      this.settle(job, [], now, false);
    } else this.refreshReadiness(job, now);
    this.touchRun(job.runId, now);
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

  private readonly listeners = new Set<() => void>();

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

  async upstreamResults(job: JobRecord, tasks: readonly string[]): Promise<Record<string, JsonValue>> {
    const run = this.active?.runs.get(job.runId);
    const out: Record<string, JsonValue> = {};
    const elsewhere: string[] = [];
    for (const u of tasks) {
      const id = run?.byTask.get(key(u, job.partitionKey)) ?? run?.byTask.get(key(u, DEFAULT_PARTITION));
      const up = id === undefined ? undefined : this.active!.jobs.get(id);
      if (up) out[u] = up.result;
      else elsewhere.push(u);
    }
    if (elsewhere.length === 0) return out;
    await this.flush();
    // In the run but no longer in memory, or not in the run at all: the latest success wins.
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT task_name, arg_max(result_json, (pipeline_run_id = $1, finished_at)) FROM __orch__.jobs
         WHERE task_name IN (SELECT unnest($2::VARCHAR[])) AND state IN ('succeeded', 'skipped') AND partition_key IN ($3, $4)
         GROUP BY task_name`,
        [job.runId, listValue(elsewhere), job.partitionKey, DEFAULT_PARTITION],
      )
    ).getRows();
    for (const u of elsewhere) out[u] = null;
    for (const [task, result] of rows) out[String(task)] = result === null ? null : (JSON.parse(String(result)) as JsonValue);
    return out;
  }

  // ---------------------------------------------------------------- reads

  async recordCheckResults(results: readonly CheckResultRecord[]): Promise<void> {
    if (results.length === 0) return;
    await this.exclusive(() =>
      insertRows(this.conn, 'asset_check_results', CHECK_RESULT_TYPES, results, (r) =>
        Object.fromEntries(CHECK_RESULT_COLUMNS.map((c, i) => [c, checkResultValues(r)[i]])),
      ),
    );
  }

  async savePartitionRanges(r: StoredPartitionRanges): Promise<void> {
    await this.exclusive(() =>
      inTransaction(this.conn, async () => {
        await this.conn.run('DELETE FROM __orch__.asset_partition_ranges WHERE asset_name = $1', [r.asset]);
        await this.conn.run('INSERT INTO __orch__.asset_partition_ranges VALUES ($1, $2, $3::TIMESTAMP, $4)', [
          r.asset,
          r.spaceKey,
          r.through.toISOString(),
          JSON.stringify(r.ranges),
        ]);
      }),
    );
  }

  async recordRegistration(): Promise<void> {
    // The registry is in this same file: runs are compared with it directly.
  }

  async currentTasks(runIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    const out = new Map<string, ReadonlySet<string>>();
    if (runIds.length === 0) return out;
    await this.flush();
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT p.pipeline_run_id, p.dag_name, list(st.task_name) FILTER (WHERE st.task_name IS NOT NULL)
         FROM __orch__.pipeline_runs p
         LEFT JOIN __orch__.active_dags a ON a.dag_name = p.dag_name
         LEFT JOIN __orch__.snapshot_tasks st ON st.snapshot_id = a.snapshot_id
         WHERE p.pipeline_run_id IN (SELECT unnest($1::VARCHAR[])) GROUP BY ALL`,
        [listValue([...runIds])],
      )
    ).getRowsJS() as Array<[string, string | null, string[] | null]>;
    let registry: ReadonlySet<string> | undefined;
    for (const [id, dag, tasks] of rows) {
      if (dag !== null) {
        // A DAG run from a module, never activated: nothing says what its DAG is now.
        if (tasks && tasks.length > 0) out.set(id, new Set(tasks));
        continue;
      }
      registry ??= new Set((await this.reader.runAndReadAll('SELECT name FROM __orch__.tasks')).getRows().map((r) => String(r[0])));
      out.set(id, registry);
    }
    return out;
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

  async lastWatermark(task: string, partitionKey = DEFAULT_PARTITION): Promise<string | null> {
    // A success not yet written (or being written) is newer than the state table: no flush on a task's path.
    for (const batch of [this.settled, this.writing])
      for (let i = batch.length - 1; i >= 0; i--) {
        const { job } = batch[i]!;
        if (job.task === task && job.partitionKey === partitionKey && job.state === 'succeeded') return job.watermark;
      }
    const row = (
      await this.reader.runAndReadAll('SELECT last_processed_at FROM __orch__.task_state WHERE task_name = $1 AND partition_key = $2', [
        task,
        partitionKey,
      ])
    ).getRows()[0];
    return row ? ((row[0] as string | null) ?? null) : null;
  }

  // ---------------------------------------------------------------- in-memory state

  private async loadActive(now: Date): Promise<NonNullable<DuckDbLedger['active']>> {
    if (this.active) return this.active;
    this.active = { runs: new Map(), jobs: new Map(), ready: new Map() };
    const unfinished = "SELECT pipeline_run_id FROM __orch__.pipeline_runs WHERE state IN ('queued', 'running')";
    // The unfinished runs are usually none; when a queue of thousands is waiting, it is read as
    // one JSON text each for runs and jobs (converting value by value cost seconds and as much
    // memory again as the rows themselves).
    const runs = await this.readJson<RunJson>(
      `SELECT ${RUN_JSON} FROM __orch__.pipeline_runs p WHERE p.pipeline_run_id IN (${unfinished})`,
    );
    if (runs.length > 0) {
      const byRun = new Map<string, { jobs: JobRecord[]; databases: Array<string | null> }>();
      for (const row of await this.readJson<JobJson>(
        `SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id IN (${unfinished})`,
      )) {
        let list = byRun.get(row.r);
        if (!list) byRun.set(row.r, (list = { jobs: [], databases: [] }));
        list.jobs.push(jobFromJson(row));
        list.databases.push(row.db);
      }
      for (const r of runs) {
        const list = byRun.get(r.id);
        this.adopt(runFromJson(r), list?.jobs ?? [], now, list?.databases ?? []);
      }
    }
    return this.active;
  }

  /** The rows of `select` (one JSON object per row, in a column named `j`) as one JSON text, parsed. */
  private async readJson<T>(select: string): Promise<T[]> {
    const row = (await this.reader.runAndReadAll(`SELECT '[' || coalesce(string_agg(j, ','), '') || ']' FROM (${select})`)).getRows()[0];
    return JSON.parse(String(row?.[0] ?? '[]')) as T[];
  }

  /** A run in memory again (a finished one leaves it): false when there is no such run. */
  private async bringBack(runId: string, now: Date): Promise<boolean> {
    if (this.active!.runs.has(runId)) return true;
    const record = await this.getRun(runId);
    if (!record) return false;
    const rows = await this.readJson<JobJson>(`SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id = ${stringLiteral(runId)}`);
    this.adopt(
      record,
      rows.map(jobFromJson),
      now,
      rows.map((r) => r.db),
    );
    return true;
  }

  /** Takes a run and its jobs (with the database each writes, or null) into memory and works out which jobs are ready. */
  private adopt(record: RunRecord, jobs: readonly JobRecord[], now: Date, databases: ReadonlyArray<string | null>): void {
    const active = this.active!;
    const run: ActiveRun = { record, byTask: new Map(), ofTask: new Map(), jobs: new Set(), downstream: new Map() };
    active.runs.set(record.id, run);
    record.counts = {};
    for (const [i, j] of jobs.entries()) {
      if (databases[i]) {
        this.writerKeys.set(j.id, key(j.task, j.partitionKey));
        if (j.state === 'processing') this.busyKeys.set(key(j.task, j.partitionKey), j.id);
      }
      run.byTask.set(key(j.task, j.partitionKey), j.id);
      const ofTask = run.ofTask.get(j.task);
      if (ofTask) ofTask.push(j.id);
      else run.ofTask.set(j.task, [j.id]);
      run.jobs.add(j.id);
      for (const u of j.upstream) run.downstream.set(u, [...(run.downstream.get(u) ?? []), j.id]);
      record.counts[j.state] = (record.counts[j.state] ?? 0) + 1;
      active.jobs.set(j.id, j);
    }
    for (const j of jobs) if (j.state === 'pending' || j.state === 'failed') this.refreshReadiness(j, now);
  }

  protected activeRun(id: string): RunRecord | undefined {
    return this.active?.runs.get(id)?.record;
  }

  protected forgetRun(id: string): void {
    const run = this.active?.runs.get(id);
    if (!run || run.record.finishedAt === null) return;
    for (const j of run.jobs) {
      this.active!.jobs.delete(j);
      this.unready(j);
      this.writerKeys.delete(j);
    }
    this.active!.runs.delete(id);
  }

  private upstreamJobs(job: JobRecord): JobRecord[] {
    const run = this.active!.runs.get(job.runId)!;
    return job.upstream.flatMap((u) => upstreamIds(run, job, u)).map((id) => this.active!.jobs.get(id)!);
  }

  private downstreamJobs(job: JobRecord): JobRecord[] {
    const run = this.active!.runs.get(job.runId)!;
    return (run.downstream.get(job.task) ?? []).map((id) => this.active!.jobs.get(id)!);
  }

  /** Changes a job's fields, keeping its run's counts per state and the writers at work current. */
  private assign(job: JobRecord, patch: Partial<JobRecord>): void {
    const from = job.state;
    Object.assign(job, patch);
    if (job.state === from) return;
    const writes = this.writerKeys.get(job.id);
    if (writes !== undefined) {
      if (job.state === 'processing') this.busyKeys.set(writes, job.id);
      else if (from === 'processing' && this.busyKeys.get(writes) === job.id) {
        this.busyKeys.delete(writes);
        // A job of the same task and partition may have been held back for this one.
        for (const l of this.listeners) l();
      }
    }
    const counts = this.active?.runs.get(job.runId)?.record.counts;
    if (!counts) return;
    counts[from] = (counts[from] ?? 1) - 1;
    if (counts[from] === 0) delete counts[from];
    counts[job.state] = (counts[job.state] ?? 0) + 1;
  }

  /** Puts a waiting job in the ready set, or blocks or cancels it, from its upstream jobs' states. */
  /**
   * How many of a waiting job's upstream names are known done (succeeded or skipped), so that
   * each upstream success looks on from there: a fan-in of n costs O(n) over all its upstream
   * jobs' completions instead of O(n) at each.
   */
  private readonly doneUpstream = new Map<string, number>();

  /**
   * After one of `job`'s upstream jobs succeeded or was skipped. A waiting job is never blocked or
   * cancelled by that (an upstream that died or was cancelled blocked or cancelled it when it
   * did), so only whether it became ready is in question.
   */
  private refreshAfterUpstreamDone(job: JobRecord, now: Date): void {
    if (job.state !== 'pending' && job.state !== 'failed') return this.refreshReadiness(job, now);
    const run = this.active!.runs.get(job.runId)!;
    let i = this.doneUpstream.get(job.id) ?? 0;
    for (; i < job.upstream.length; i++) {
      const ids = upstreamIds(run, job, job.upstream[i]!);
      if (ids.some((id) => !SATISFYING_STATES.has(this.active!.jobs.get(id)!.state))) break;
    }
    if (i < job.upstream.length) this.doneUpstream.set(job.id, i);
    else this.refreshReadiness(job, now);
  }

  private refreshReadiness(job: JobRecord, now: Date): void {
    // Whatever changed, the next look starts over.
    this.doneUpstream.delete(job.id);
    const active = this.active!;
    if (job.state !== 'pending' && job.state !== 'failed' && job.state !== 'blocked') return;
    const upstream = this.upstreamJobs(job);
    const verdict = readiness(upstream.map((u) => u.state));
    if (verdict === 'ready') {
      if (job.state === 'blocked') this.apply(job, { type: 'unblock' }, now);
      active.ready.set(job.id, job);
      for (const l of this.listeners) l();
    } else if (verdict === 'block' && job.state !== 'blocked') {
      const culprit = upstream.find((u) => u.state === 'dead' || u.state === 'blocked')!;
      this.unready(job.id);
      this.apply(
        job,
        { type: 'block', reason: `upstream task \`${culprit.task}\` ${culprit.state === 'dead' ? 'failed' : 'is blocked'}` },
        now,
      );
      this.cascade?.push(job);
      // Recorded as the task's latest state (the graph shows it), without touching its materialisations.
      this.settle(job, [], now);
    } else if (verdict === 'cancel') {
      const culprit = upstream.find((u) => u.state === 'cancelled')!;
      this.unready(job.id);
      this.apply(job, { type: 'cancel', reason: `upstream task \`${culprit.task}\` was cancelled` }, now);
      this.cascade?.push(job);
      this.settle(job, [], now);
    } else {
      this.unready(job.id);
    }
  }

  /** A job reached a state its downstream jobs react to; history records it at the next flush. */
  private settle(job: JobRecord, assets: readonly string[], now: Date, cascade = true): void {
    this.settled.push({ job: { ...job }, assets });
    this.touchRun(job.runId, now);
    this.doneUpstream.delete(job.id);
    if (!cascade) return;
    const done = SATISFYING_STATES.has(job.state);
    for (const d of this.downstreamJobs(job)) {
      if (done) this.refreshAfterUpstreamDone(d, now);
      else this.refreshReadiness(d, now);
    }
  }

  private touchRun(runId: string, now: Date): void {
    const run = this.active?.runs.get(runId);
    if (!run) return;
    // A run that has started stays running while its jobs wait again (released or lost by a worker).
    const derived = runState(run.record.counts);
    const state = derived === 'queued' && run.record.startedAt !== null ? 'running' : derived;
    run.record.state = state;
    const done = state === 'succeeded' || state === 'failed' || state === 'cancelled';
    run.record.finishedAt = done ? (run.record.finishedAt ?? now) : null;
    this.dirtyRuns.add(runId);
    this.scheduleFlush();
  }

  private held(id: string, worker: string): JobRecord {
    const job = this.active?.jobs.get(id);
    if (!job) throw new DuckorchError('LEASE_LOST', `job ${id} is not held by this process`);
    if (job.state !== 'processing' || job.leaseOwner !== worker)
      throw new DuckorchError(
        // Another worker took it after this one's lease ran out: this outcome is late.
        'LEASE_LOST',
        `job ${id} (${job.task}) is ${job.state}${job.leaseOwner ? ` and leased to ${job.leaseOwner}` : ''}, not held by ${worker}`,
      );
    return job;
  }

  private after(job: JobRecord, event: JobEvent, now: Date): Partial<JobRecord> {
    const next = transition(toJob(job), event, now);
    return {
      state: next.state,
      attempts: next.attempts,
      maxAttempts: next.maxAttempts,
      runAt: next.runAt,
      leaseOwner: next.leaseOwner,
      leaseExpiresAt: next.leaseExpiresAt,
      startedAt: next.startedAt,
      finishedAt: next.finishedAt,
      error: next.lastError,
      cancelRequested: next.cancelRequested,
    };
  }

  private apply(job: JobRecord, event: JobEvent, now: Date): void {
    const from = job.state;
    this.assign(job, this.after(job, event, now));
    if (job.state !== from) this.touchRun(job.runId, now);
    if (event.type === 'retry' || event.type === 'unblock') job.errorContext = null;
    this.dirtyJobs.set(job.id, job);
    this.scheduleFlush();
  }

  private loseAttempt(job: JobRecord, now: Date): void {
    const { attempts, startedAt, leaseOwner } = job;
    // At open the holder is known dead even before its lease runs out: expire it as of then, runnable now.
    this.apply(job, { type: 'expire' }, new Date(Math.max(now.getTime(), job.leaseExpiresAt?.getTime() ?? 0)));
    if (job.state === 'pending') job.runAt = now;
    this.bufferedAttempts.push({
      seq: this.nextSeq++,
      job: { ...job, error: 'the worker holding it stopped' },
      attempt: attempts,
      worker: leaseOwner ?? 'unknown',
      startedAt: startedAt ?? now,
      finishedAt: now,
      outcome: 'lost',
      assets: [],
    });
    this.afterStopped(job, now);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * After a crash: successes committed with their data but not yet written to the job rows are
   * folded in, and jobs the dead process held go back to pending with a `lost` attempt.
   */
  /** Whether a job of an unfinished run is processing (jobs are appended in time order: only the unfinished runs' row groups are read). */
  private async anyProcessing(): Promise<boolean> {
    const [[n]] = (
      await this.conn.runAndReadAll(
        `SELECT count(*) FROM __orch__.jobs WHERE state = 'processing'
           AND created_at >= (SELECT min(created_at) FROM __orch__.pipeline_runs WHERE finished_at IS NULL)`,
      )
    ).getRows() as [[bigint]];
    return Number(n) > 0;
  }

  private async recover(now: Date): Promise<void> {
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

/**
 * The jobs of a run that `job` waits for in upstream task `u`: the one of its partition, or the
 * unpartitioned one; an unpartitioned job waits for every partition of `u` (the same rule as the
 * PostgreSQL ledger's `dependencies`).
 */
function upstreamIds(run: ActiveRun, job: JobRecord, u: string): readonly string[] {
  const id = run.byTask.get(key(u, job.partitionKey)) ?? run.byTask.get(key(u, DEFAULT_PARTITION));
  if (id !== undefined) return [id];
  return job.partitionKey === DEFAULT_PARTITION ? (run.ofTask.get(u) ?? []) : [];
}

/**
 * The embedded ledger's queue in memory: the unfinished runs and their jobs (loaded when a worker
 * first needs them; a large run of independent jobs a page at a time), which jobs are ready, how
 * a change to one job reaches the jobs waiting for it (ready, blocked or cancelled), and the
 * writers at work. Recovery after a crash is in `ledger-recovery.ts`. `DuckDbLedger` answers the
 * ledger's calls from it; what changes is buffered for the batched writes below it.
 */
import { listValue } from '../../duckdb-api.js';
import { DuckorchError } from '../../errors.js';
import { SATISFYING_STATES, readiness, runState, transition, type JobEvent } from '../../model/jobs/job-state.js';
import { DEFAULT_PARTITION, type JobRecord, type JsonValue, type RunRecord } from '../ledger.js';
import { DuckDbWrites } from './ledger-writes.js';
import { stringLiteral } from './sql-util.js';
import { type ActiveRun, key, toJob, type RunJson, RUN_JSON, runFromJson, type JobJson, JOB_JSON, jobFromJson } from './ledger-rows.js';

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

/** Jobs a large run of independent jobs keeps in memory at a time (see `ActiveRun.page`). */
export const DEFAULT_PAGE_SIZE = 2000;

export abstract class DuckDbQueue extends DuckDbWrites {
  abstract getRun(id: string): Promise<RunRecord | undefined>;

  /** A run of more independent jobs than this is kept in memory a page at a time. */
  pageSize = DEFAULT_PAGE_SIZE;

  /** The active runs kept a page at a time whose waiting jobs are not all read yet. */
  protected readonly paging = new Set<ActiveRun>();

  /** Unfinished runs and their jobs, loaded on first use by a worker. */
  protected active: { runs: Map<string, ActiveRun>; jobs: Map<string, JobRecord>; ready: Map<string, JobRecord> } | undefined;

  protected nextSeq = 0;

  /** While set, collects the jobs a change blocks or cancels downstream. */
  protected cascade: JobRecord[] | undefined;

  /** `task\0partition` of the jobs that write data (SQL tasks and assets), by job id: at most one of a key runs at a time. */
  protected readonly writerKeys = new Map<string, string>();

  /** The key of each writing job being processed, and that job's id. */
  protected readonly busyKeys = new Map<string, string>();

  protected readonly listeners = new Set<() => void>();

  /** Entries deleted from the ready set since it was last rebuilt. */
  protected readyHoles = 0;

  /** Takes a job out of the ready set. */
  protected unready(id: string): void {
    if (this.active!.ready.delete(id)) this.readyHoles++;
  }

  /** The rows of `select` (one JSON object per row, in a column named `j`) as one JSON text, parsed. */
  protected async readJson<T>(select: string): Promise<T[]> {
    const row = (await this.reader.runAndReadAll(`SELECT '[' || coalesce(string_agg(j, ','), '') || ']' FROM (${select})`)).getRows()[0];
    return JSON.parse(String(row?.[0] ?? '[]')) as T[];
  }

  protected async loadActive(now: Date): Promise<NonNullable<DuckDbQueue['active']>> {
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
      const paged = await this.pagedRuns(unfinished);
      const byRun = new Map<string, { jobs: JobRecord[]; databases: Array<string | null> }>();
      for (const row of await this.readJson<JobJson>(
        `SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id IN (${unfinished})
           ${paged.size > 0 ? `AND j.pipeline_run_id NOT IN (${[...paged].map(stringLiteral).join(', ')})` : ''}`,
      )) {
        let list = byRun.get(row.r);
        if (!list) byRun.set(row.r, (list = { jobs: [], databases: [] }));
        list.jobs.push(jobFromJson(row));
        list.databases.push(row.db);
      }
      for (const r of runs) {
        if (paged.has(r.id)) {
          await this.adoptPaged(runFromJson(r), now);
          continue;
        }
        const list = byRun.get(r.id);
        this.adopt(runFromJson(r), list?.jobs ?? [], now, list?.databases ?? []);
      }
    }
    return this.active;
  }

  /** Of the runs `runIds` (a query) those kept a page at a time: more jobs than a page, none waiting for another. */
  private async pagedRuns(runIds: string): Promise<Set<string>> {
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT pipeline_run_id FROM __orch__.jobs WHERE pipeline_run_id IN (${runIds})
         GROUP BY pipeline_run_id HAVING count(*) > ${this.pageSize} AND max(len(upstream)) = 0`,
      )
    ).getRows();
    return new Set(rows.map(([id]) => String(id)));
  }

  /**
   * Takes a run kept a page at a time into memory: its counts by state, the jobs that are neither
   * waiting nor done (in flight, failed, cancelled…), and the first page of its waiting jobs.
   */
  private async adoptPaged(record: RunRecord, now: Date): Promise<void> {
    const id = stringLiteral(record.id);
    const counts: RunRecord['counts'] = {};
    for (const [state, n] of (
      await this.reader.runAndReadAll(`SELECT state, count(*) FROM __orch__.jobs WHERE pipeline_run_id = ${id} GROUP BY state`)
    ).getRows())
      counts[String(state) as JobRecord['state']] = Number(n);
    const rows = [
      ...(await this.readJson<JobJson>(
        `SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id = ${id} AND j.state NOT IN ('pending', 'succeeded', 'skipped')`,
      )),
      ...(await this.readJson<JobJson>(
        `SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id = ${id} AND j.state = 'pending' ORDER BY j.job_id LIMIT ${this.pageSize}`,
      )),
    ];
    const waiting = rows.filter((r) => r.state === 'pending');
    this.adopt(
      record,
      rows.map(jobFromJson),
      now,
      rows.map((r) => r.db),
      { counts, after: waiting.at(-1)?.id ?? '', left: (counts.pending ?? 0) - waiting.length },
    );
  }

  /**
   * Reads the next page of waiting jobs of the runs kept a page at a time whose page runs low
   * (fewer than half a page waiting in memory). One read at a time per run.
   */
  protected async refillPages(now: Date): Promise<void> {
    for (const run of this.paging) {
      const page = run.page!;
      if (page.loading) {
        await page.loading;
        continue;
      }
      if ((run.record.counts.pending ?? 0) - page.left >= this.pageSize / 2) continue;
      page.loading = this.readPage(run, now).finally(() => (page.loading = undefined));
      await page.loading;
    }
  }

  private async readPage(run: ActiveRun, now: Date): Promise<void> {
    const page = run.page!;
    const rows = await this.readJson<JobJson>(
      `SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id = ${stringLiteral(run.record.id)} AND j.state = 'pending'
         AND j.job_id > ${stringLiteral(page.after)} ORDER BY j.job_id LIMIT ${this.pageSize}`,
    );
    const active = this.active!;
    for (const row of rows) {
      if (active.jobs.has(row.id)) continue;
      const job = jobFromJson(row);
      if (row.db) this.writerKeys.set(job.id, key(job.task, job.partitionKey));
      run.jobs.add(job.id);
      active.jobs.set(job.id, job);
      this.refreshReadiness(job, now);
    }
    page.after = rows.at(-1)?.id ?? page.after;
    if (rows.length < this.pageSize && page.left > rows.length) {
      // Fewer waiting on disk than counted: the counts follow the disk, so that the run can end.
      const counts = run.record.counts;
      counts.pending = Math.max(0, (counts.pending ?? 0) - (page.left - rows.length));
      if (counts.pending === 0) delete counts.pending;
      this.touchRun(run.record.id, now);
    }
    page.left = rows.length < this.pageSize ? 0 : Math.max(0, page.left - rows.length);
    if (page.left === 0) this.paging.delete(run);
  }

  /** Successes of runs kept a page at a time leave memory once written: nothing waits for them. */
  protected override afterWritten(jobs: readonly JobRecord[]): void {
    const active = this.active;
    if (!active) return;
    for (const job of jobs) {
      if (!SATISFYING_STATES.has(job.state) || this.dirtyJobs.has(job.id)) continue;
      const run = active.runs.get(job.runId);
      if (!run?.page) continue;
      active.jobs.delete(job.id);
      run.jobs.delete(job.id);
      this.writerKeys.delete(job.id);
      this.doneUpstream.delete(job.id);
    }
  }

  /** How many jobs the queue holds in memory (for tests and diagnostics). */
  jobsInMemory(): number {
    return this.active?.jobs.size ?? 0;
  }

  /** A run in memory again (a finished one leaves it): false when there is no such run. */
  protected async bringBack(runId: string, now: Date): Promise<boolean> {
    if (this.active!.runs.has(runId)) return true;
    const record = await this.getRun(runId);
    if (!record) return false;
    if ((await this.pagedRuns(stringLiteral(runId))).size > 0) {
      await this.adoptPaged(record, now);
      return true;
    }
    const rows = await this.readJson<JobJson>(`SELECT ${JOB_JSON} FROM __orch__.jobs j WHERE j.pipeline_run_id = ${stringLiteral(runId)}`);
    this.adopt(
      record,
      rows.map(jobFromJson),
      now,
      rows.map((r) => r.db),
    );
    return true;
  }

  /**
   * Takes a run and its jobs (with the database each writes, or null) into memory and works out
   * which jobs are ready. A run kept a page at a time (`paged`) comes with its counts over all its
   * jobs; its jobs wait for none, so no index of them by task is kept.
   */
  protected adopt(
    record: RunRecord,
    jobs: readonly JobRecord[],
    now: Date,
    databases: ReadonlyArray<string | null>,
    paged?: { counts: RunRecord['counts']; after: string; left: number },
  ): void {
    const active = this.active!;
    const run: ActiveRun = { record, byTask: new Map(), ofTask: new Map(), jobs: new Set(), downstream: new Map() };
    active.runs.set(record.id, run);
    record.counts = {};
    if (paged) {
      run.page = { after: paged.after, left: paged.left };
      if (paged.left > 0) this.paging.add(run);
    }
    for (const [i, j] of jobs.entries()) {
      if (databases[i]) {
        this.writerKeys.set(j.id, key(j.task, j.partitionKey));
        if (j.state === 'processing') this.busyKeys.set(key(j.task, j.partitionKey), j.id);
      }
      run.jobs.add(j.id);
      active.jobs.set(j.id, j);
      if (paged) continue;
      run.byTask.set(key(j.task, j.partitionKey), j.id);
      const ofTask = run.ofTask.get(j.task);
      if (ofTask) ofTask.push(j.id);
      else run.ofTask.set(j.task, [j.id]);
      for (const u of j.upstream) run.downstream.set(u, [...(run.downstream.get(u) ?? []), j.id]);
      record.counts[j.state] = (record.counts[j.state] ?? 0) + 1;
    }
    if (paged) record.counts = { ...paged.counts };
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
    this.paging.delete(run);
  }

  protected upstreamJobs(job: JobRecord): JobRecord[] {
    const run = this.active!.runs.get(job.runId)!;
    return job.upstream.flatMap((u) => upstreamIds(run, job, u)).map((id) => this.active!.jobs.get(id)!);
  }

  protected downstreamJobs(job: JobRecord): JobRecord[] {
    const run = this.active!.runs.get(job.runId)!;
    return (run.downstream.get(job.task) ?? []).map((id) => this.active!.jobs.get(id)!);
  }

  /** Changes a job's fields, keeping its run's counts per state and the writers at work current. */
  protected assign(job: JobRecord, patch: Partial<JobRecord>): void {
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
  protected readonly doneUpstream = new Map<string, number>();

  /**
   * After one of `job`'s upstream jobs succeeded or was skipped. A waiting job is never blocked or
   * cancelled by that (an upstream that died or was cancelled blocked or cancelled it when it
   * did), so only whether it became ready is in question.
   */
  protected refreshAfterUpstreamDone(job: JobRecord, now: Date): void {
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

  protected refreshReadiness(job: JobRecord, now: Date): void {
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
  protected settle(job: JobRecord, assets: readonly string[], now: Date, cascade = true): void {
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

  protected touchRun(runId: string, now: Date): void {
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

  protected held(id: string, worker: string): JobRecord {
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

  protected after(job: JobRecord, event: JobEvent, now: Date): Partial<JobRecord> {
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

  protected apply(job: JobRecord, event: JobEvent, now: Date): void {
    const from = job.state;
    this.assign(job, this.after(job, event, now));
    if (job.state !== from) this.touchRun(job.runId, now);
    if (event.type === 'retry' || event.type === 'unblock') job.errorContext = null;
    this.dirtyJobs.set(job.id, job);
    this.scheduleFlush();
  }

  /** A job its worker let go of without an outcome: waiting again, or cancelled when that was asked meanwhile. */
  protected afterStopped(job: JobRecord, now: Date): void {
    if (job.state === 'cancelled') {
      this.unready(job.id);
      this.settle(job, [], now, false);
    } else this.refreshReadiness(job, now);
    this.touchRun(job.runId, now);
  }

  protected loseAttempt(job: JobRecord, now: Date): void {
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
}

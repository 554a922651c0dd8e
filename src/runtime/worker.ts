/**
 * The worker loop: claim ready jobs from the ledger, hand each to the runner of its task's kind,
 * keep the leases alive, enforce timeouts and cancellation, and complete or fail the job. A
 * failed attempt with retries left gets a later `run_at` in the ledger and frees its slot at
 * once: waiting for a retry never holds a slot. `duck-orch run` is one of these loops working
 * its own run in-process; `duck-orch worker` is one working every run until stopped.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DuckorchError } from '../errors.js';
import { assetsOf } from '../model/assets.js';
import { attemptsAllowed, retryDelayMs, type RetryPolicy } from '../model/retry.js';
import { writesDatabase, type TaskDefinition } from '../model/taskfile/task.js';
import type { TemplateVariable } from '../sql/template.js';
import { findCompletionMarker } from '../store/duckdb/completion-markers.js';
import { storeWatermarkSql, storedWatermark } from '../store/duckdb/watermarks.js';
import type { ClaimOptions, ClaimedJob, JobRecord, JsonValue, Ledger, SuccessOutcome } from '../store/ledger.js';
import type { DataTransaction } from '../store/ledger.js';
import { AttemptFailure } from './attempt-failure.js';
import { ensureSchemas } from './catalog.js';
import { Reconnect, isConnectionLost } from './reconnect.js';
import { prepareStatements, runSqlAttempt, type AttemptSuccess, type VariableValue } from './sql-task.js';
import { resolveWatermark } from './watermark.js';

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

/** Conflicts between concurrent transactions are transient; retry them this many times per attempt. */
const CONFLICT_RETRIES = 8;
const SHUTDOWN = Symbol('shutdown');
/** Jobs that take less than this on average are claimed ahead (`WorkerOptions.prefetch`). */
const SHORT_JOB_MS = 20;
/** Jobs claimed ahead cover the slots' work for this many round trips of the ledger. */
const AHEAD_ROUND_TRIPS = 4;
/** Past a lease's expiry before reaping it (clocks of machines differ a little). */
const REAP_MARGIN_MS = 10;
const LEASE_LOST = Symbol('lease lost');
/** Cancelled from elsewhere while it ran (`cancel`): stopped, and recorded as cancelled. */
const CANCEL_REQUESTED = Symbol('cancel requested');
/** The worker let go of the job's database (its lease ran out): the job goes back, unharmed. */
const DATABASE_LOST = Symbol('database lost');

function formatSqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** What a job's execution shares with its worker loop. */
interface Ctx {
  /** Retries ledger calls through a lost connection. */
  reconnect: Reconnect;
  /** Aborts when waiting for the ledger to come back is no longer worth it (cancelled, or the shutdown's grace is over). */
  giveUp: AbortSignal;
}

/** A ledger call of a job's execution, retried through a lost connection until the worker gives up. */
function retried<T>(ctx: Ctx, fn: (retry: number) => Promise<T>): Promise<T> {
  return ctx.reconnect.call(fn, ctx.giveUp);
}

export async function work(o: WorkerOptions): Promise<void> {
  const inflight = new Map<string, AbortController>();
  /** The database of each in-flight job that has one. */
  const inflightDatabase = new Map<string, string>();
  const reconnect = new Reconnect({ random: o.random, ...(o.onNotice ? { notice: o.onNotice } : {}) });
  const graceOver = new AbortController();
  const ctx: Ctx = { reconnect, giveUp: o.signal ? AbortSignal.any([o.signal, graceOver.signal]) : graceOver.signal };
  // The loop stops waiting for the ledger when asked to stop: it has nothing more to claim.
  const stopSignals = [o.signal, o.shutdown].filter((s): s is AbortSignal => s !== undefined);
  const stopWaiting = stopSignals.length > 0 ? AbortSignal.any(stopSignals) : undefined;
  const orStopped = <T>(fn: () => Promise<T>, fallback: T): Promise<T> =>
    reconnect.call(fn, stopWaiting).catch((err: unknown) => {
      if (isConnectionLost(err) && stopping()) return fallback;
      throw err;
    });
  let wake: (() => void) | undefined;
  let failure: unknown;
  // Counts what may make work claimable (a job ending, a signal): a change seen while the loop was
  // awaiting the ledger sends it round again instead of to sleep, or out.
  let changes = 0;
  const nudge = () => {
    changes++;
    wake?.();
  };
  const stopping = () => o.signal?.aborted === true || o.shutdown?.aborted === true;
  const onCancel = () => {
    for (const c of inflight.values()) c.abort(o.signal?.reason);
    nudge();
  };
  o.databases?.onChange?.(nudge);
  o.signal?.addEventListener('abort', onCancel);
  o.shutdown?.addEventListener('abort', nudge);
  const heartbeat = setInterval(
    () => {
      if (inflight.size === 0 && buffered.length === 0) return;
      if (o.databases) {
        const held = o.databases.held();
        for (const [id, db] of inflightDatabase) if (!held.has(db)) inflight.get(id)?.abort(DATABASE_LOST);
      }
      o.ledger.heartbeat(o.workerId, [...inflight.keys(), ...buffered.map((j) => j.id)], o.leaseMs, o.clock()).then(
        ({ lost, cancelled }) => {
          lost.forEach((id) => inflight.get(id)?.abort(LEASE_LOST));
          cancelled.forEach((id) => inflight.get(id)?.abort(CANCEL_REQUESTED));
          // Claimed ahead and not started: a lost one is dropped, a cancelled one ends as cancelled.
          const gone = new Set(lost);
          const stop = new Set(cancelled);
          for (let i = buffered.length - 1; i >= 0; i--) {
            const job = buffered[i]!;
            if (!gone.has(job.id) && !stop.has(job.id)) continue;
            buffered.splice(i, 1);
            if (stop.has(job.id)) start(job, CANCEL_REQUESTED);
          }
        },
        () => undefined,
      );
    },
    // Often enough that a job cancelled from elsewhere (it loses its lease) stops within a second or so.
    Math.min(1000, o.leaseMs / 3),
  );
  heartbeat.unref();
  // Jobs of workers that died come back once their lease has run out; any live worker takes them,
  // at the moment the earliest lease runs out (and at least every half lease, for leases taken later).
  let reaper: NodeJS.Timeout | undefined;
  let reaping = true;
  const reap = async (): Promise<void> => {
    const now = o.clock();
    if ((await o.ledger.reapExpired(now).catch(() => 0)) > 0) nudge();
    const next = await o.ledger.nextLeaseExpiry().catch(() => undefined);
    if (!reaping) return;
    const untilNext = next === undefined ? Infinity : next.getTime() - o.clock().getTime() + REAP_MARGIN_MS;
    reaper = setTimeout(() => void reap(), Math.max(REAP_MARGIN_MS, Math.min(untilNext, o.leaseMs / 2)));
    reaper.unref();
  };
  const claimOptions = (limit: number): ClaimOptions => ({
    worker: o.workerId,
    limit,
    leaseMs: o.leaseMs,
    now: o.clock(),
    ...(o.runId ? { runId: o.runId } : {}),
    ...(o.tasks ? { tasks: o.tasks } : {}),
    ...(o.dag !== undefined ? { dag: o.dag } : {}),
    ...(o.databases ? { databases: o.databases.held() } : {}),
  });
  /** Claimed ahead (`prefetch`), waiting for a slot. */
  const buffered: ClaimedJob[] = [];
  // Jobs are claimed ahead only while the jobs run are short, where the round trip between two
  // jobs is what costs: a job claimed ahead then starts within milliseconds, and is never held
  // back from another worker that is idle while this one's slots are busy with long jobs.
  let typicalMs: number | undefined;
  /** How long recording successes (and claiming their replacements) takes, on average. */
  let roundTripMs = 0;
  // As many as the slots finish in a few round trips of the ledger (so that they never wait for
  // one), at most `prefetch`, and at least one per slot.
  const ahead = () => {
    if (!o.prefetch || typicalMs === undefined || typicalMs >= SHORT_JOB_MS) return 0;
    const perTrip = Math.ceil((AHEAD_ROUND_TRIPS * o.concurrency * roundTripMs) / Math.max(typicalMs, 0.01));
    return Math.max(o.concurrency, Math.min(o.prefetch, perTrip));
  };
  const start = (job: ClaimedJob, abort?: symbol): void => {
    const controller = new AbortController();
    if (abort) controller.abort(abort);
    inflight.set(job.id, controller);
    if (job.database !== null) inflightDatabase.set(job.id, job.database);
    const startedAt = performance.now();
    execute(o, ctx, job, controller.signal, handOff)
      .catch((err: unknown) => (failure ??= err))
      .finally(() => {
        const ran = performance.now() - startedAt;
        typicalMs = typicalMs === undefined ? ran : 0.8 * typicalMs + 0.2 * ran;
        inflight.delete(job.id);
        inflightDatabase.delete(job.id);
        // The slot goes to a job claimed ahead, without waiting for the loop.
        const next = !stopping() && failure === undefined ? buffered.shift() : undefined;
        if (next) start(next);
        nudge();
      });
  };
  /** Starts what the slots can take now and keeps the rest for the next free slot. */
  const take = (jobs: readonly ClaimedJob[]): void => {
    for (const job of jobs)
      if (inflight.size < o.concurrency) start(job);
      else buffered.push(job);
  };
  // A function task's success frees its slot at once (for a job claimed ahead, see `prefetch`)
  // and goes to the ledger in the background, with the successes of the jobs that ended in the
  // same turn of the event loop, in one statement that also claims as many jobs to replace them:
  // with jobs claimed ahead, a commit is never waited on between two jobs. Until recorded, they
  // still count against what the worker may hold, so that the slots are never over-filled.
  // `completing` holds what is not recorded yet: the loop ends only once it is.
  const completing = new Set<Promise<void>>();
  let completingJobs = 0;
  let batch: { job: ClaimedJob; outcome: SuccessOutcome; resolve: () => void; reject: (err: unknown) => void }[] = [];
  // Few statements at a time (one per 8 slots): successes that come in while they are on their
  // way go together in the next, sent as soon as one returns (with jobs claimed ahead, the slots
  // never wait for it). One statement each made the ledger's round trips, not the jobs, the pace.
  const flushesAtOnce = Math.max(1, Math.floor(o.concurrency / 8));
  let flushing = 0;
  let scheduled = false;
  const flushSoon = (): void => {
    if (scheduled || flushing >= flushesAtOnce) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushing++;
      void flush().finally(() => {
        flushing--;
        if (batch.length > 0) flushSoon();
      });
    });
  };
  const flush = async (): Promise<void> => {
    const items = batch;
    batch = [];
    if (items.length === 0) return;
    const now = o.clock();
    // Through a lost connection a batch is sent again as it is: what a try whose reply was lost
    // recorded is recognised as this worker's (see the ledger), and is neither applied twice nor lost.
    if (stopping() || failure !== undefined) {
      for (const it of items) await retried(ctx, () => o.ledger.complete(it.job, o.workerId, it.outcome, now)).then(it.resolve, it.reject);
      completingJobs -= items.length;
      return;
    }
    try {
      // The claim is asked anew on each try (its lease starts from now), and not at all once stopping.
      const sent = performance.now();
      const { claimed, lost } = await retried(ctx, () =>
        o.ledger.completeAndClaim(o.workerId, items, now, claimOptions(stopping() || failure !== undefined ? 0 : items.length)),
      );
      roundTripMs = 0.8 * roundTripMs + 0.2 * (performance.now() - sent);
      completingJobs -= items.length;
      take(claimed);
      const gone = new Set(lost);
      for (const it of items)
        if (gone.has(it.job.id)) it.reject(new DuckorchError('LEASE_LOST', `job ${it.job.id} is no longer held by ${o.workerId}`));
        else it.resolve();
    } catch (err) {
      completingJobs -= items.length;
      for (const it of items) it.reject(err);
    }
  };
  const handOff: HandOff = {
    completeLater: (job, outcome, recorded) => {
      completingJobs++;
      const done = new Promise<void>((resolve, reject) => {
        batch.push({ job, outcome, resolve, reject });
        flushSoon();
      })
        .then(recorded, (err: unknown) => {
          // Taken over meanwhile (its lease ran out): the ledger moved on, nothing to record.
          if (!isLeaseLost(err)) failure ??= err;
        })
        .finally(() => {
          completing.delete(done);
          // Its downstream jobs may be ready now, and a loop waiting to end may end.
          nudge();
        });
      completing.add(done);
    },
  };
  const unsubscribe = await o.ledger.subscribe(nudge).catch(() => async () => undefined);
  // A worker starting up first takes back what stopped workers left.
  await reap();
  try {
    while (!stopping() && failure === undefined) {
      const seen = changes;
      take(buffered.splice(0, Math.max(0, o.concurrency - inflight.size)));
      const free = o.concurrency + ahead() - inflight.size - buffered.length - completingJobs;
      const claimed = free > 0 ? await orStopped(() => o.ledger.claim(claimOptions(free)), []) : [];
      take(claimed);
      if (claimed.length > 0) continue;
      // Every slot busy: nothing to look for until a job ends (which nudges).
      const due =
        free > 0
          ? await orStopped(
              () =>
                o.ledger.nextDue({
                  ...(o.runId ? { runId: o.runId } : {}),
                  ...(o.tasks ? { tasks: o.tasks } : {}),
                  ...(o.dag !== undefined ? { dag: o.dag } : {}),
                  ...(o.databases ? { databases: o.databases.held() } : {}),
                }),
              undefined,
            )
          : undefined;
      if (changes !== seen) continue;
      if (
        (o.runId !== undefined || o.untilIdle) &&
        inflight.size === 0 &&
        buffered.length === 0 &&
        completing.size === 0 &&
        due === undefined
      )
        break;
      const untilDue = due === undefined ? Infinity : Math.max(0, due.getTime() - o.clock().getTime());
      const wait = inflight.size > 0 && free === 0 ? Infinity : Math.min(untilDue, o.pollMs ?? (o.runId ? Infinity : 200));
      await new Promise<void>((resolve) => {
        const timer = wait === Infinity ? undefined : setTimeout(resolve, wait);
        wake = () => {
          if (timer) clearTimeout(timer);
          resolve();
        };
        if (stopping() || changes !== seen) wake();
      });
      wake = undefined;
    }
    // Claimed ahead and never started: back to the queue, unharmed (a cancelled run cancels them next).
    const unstarted = buffered.splice(0).map((j) => j.id);
    if (unstarted.length > 0)
      await o.ledger.release(o.workerId, unstarted, o.clock()).catch((e: unknown) => {
        // Nothing is lost: their leases run out and another worker takes them.
        if (!isConnectionLost(e)) throw e;
      });
    if (o.shutdown?.aborted && inflight.size > 0) {
      // A shutdown is not a verdict: give in-flight jobs their grace, then hand them back.
      const grace = setTimeout(() => {
        inflight.forEach((c) => c.abort(SHUTDOWN));
        graceOver.abort();
      }, o.graceMs ?? 30_000);
      await drain(inflight, (w) => (wake = w));
      clearTimeout(grace);
    }
    await drain(inflight, (w) => (wake = w));
    // Successes sent in the background are recorded before the loop ends.
    while (completing.size > 0) await Promise.allSettled([...completing]);
    if (failure !== undefined) throw failure;
  } finally {
    clearInterval(heartbeat);
    reaping = false;
    clearTimeout(reaper);
    await unsubscribe();
    o.signal?.removeEventListener('abort', onCancel);
    o.shutdown?.removeEventListener('abort', nudge);
    await o.ledger.flush();
  }
}

function timeoutOf(o: WorkerOptions, task: TaskDefinition): number | null {
  return task.timeoutSeconds !== null ? task.timeoutSeconds * 1000 : (o.defaultTimeoutMs ?? null);
}

function isLeaseLost(err: unknown): boolean {
  return err instanceof DuckorchError && err.code === 'LEASE_LOST';
}

async function drain(inflight: ReadonlyMap<string, unknown>, setWake: (w: () => void) => void): Promise<void> {
  while (inflight.size > 0) await new Promise<void>((resolve) => setWake(resolve));
}

/** How a finishing function job records its success while its slot goes on to the next job (see `work`). */
interface HandOff {
  /** Records the success in the background; `recorded` is called once it is (not when the job was no longer held). */
  completeLater(job: ClaimedJob, outcome: SuccessOutcome, recorded: () => void): void;
}

async function execute(o: WorkerOptions, ctx: Ctx, job: ClaimedJob, signal: AbortSignal, handOff: HandOff): Promise<void> {
  const task = await retried(ctx, () => o.definition(job));
  if ('missing' in task) {
    const now = o.clock();
    const skipped = await retried(ctx, () => o.ledger.skip(job, o.workerId, task.missing, now)).then(
      () => true,
      (e: unknown) => {
        if (isLeaseLost(e)) return false;
        throw e;
      },
    );
    if (!skipped) return;
    o.onEvent?.({ type: 'skip', task: job.task, job: { ...job, state: 'skipped', error: task.missing } });
    return;
  }
  let database: { instance: DuckDBInstance; release: () => void } | undefined;
  if (job.database !== null && o.databases) {
    database = o.databases.use(job.database);
    // Claimed as the worker let go of the database: the job goes back for its next holder.
    if (!database) return o.ledger.release(o.workerId, [job.id], o.clock());
  }
  o.onEvent?.({ type: 'start', task: job.task, attempt: job.attempts });
  const assets = assetsOf(task);
  try {
    const instance = database?.instance ?? o.instance;
    if (writesDatabase(task) && instance === undefined)
      throw new AttemptFailure(
        'definition',
        `task \`${job.task}\` writes a DuckDB database, but its job names none (it was enqueued by an older duck-orch): enqueue it again`,
        {},
      );
    // The data of an earlier attempt may have committed without its completion reaching the ledger (see PgLedger.complete).
    if (job.database !== null && instance && (await recordCommitted(o, ctx, job, instance))) return;
    if (instance && writesDatabase(task)) await ensureSchemas(instance, task.outputs);
    if (task.kind === 'function') await runFunction(o, ctx, job, task, signal, assets, instance, handOff);
    else await runSql(o, ctx, job, task, signal, assets, instance!);
  } catch (err) {
    // Cancelled or taken over (this worker's lease ran out, another took the job): the ledger already moved on.
    if (signal.reason === LEASE_LOST || isLeaseLost(err)) return;
    if (signal.reason === SHUTDOWN || signal.reason === DATABASE_LOST) {
      const now = o.clock();
      const handedBack = await retried(ctx, () => o.ledger.release(o.workerId, [job.id], now)).then(
        () => true,
        (e: unknown) => {
          // Nothing is lost: its lease runs out and another worker takes it back.
          if (isConnectionLost(e)) o.onNotice?.(`could not hand ${job.task} back (${e.message}); its lease will run out`);
          else throw e;
          return false;
        },
      );
      if (handedBack)
        o.onEvent?.({
          type: 'release',
          task: job.task,
          reason: signal.reason === SHUTDOWN ? 'the worker is shutting down' : 'the worker lost its lease on the database',
        });
      return;
    }
    const f =
      err instanceof AttemptFailure
        ? err
        : new AttemptFailure('definition', `internal error: ${err instanceof Error ? err.message : String(err)}`, {});
    const cancelled = f.kind === 'cancelled';
    const delayMs = retryDelayMs(job.attempts, o.retry, o.random);
    const failedAt = o.clock();
    // Sent again after a lost connection, a failure that committed the first time is LEASE_LOST: dropped below.
    const failed = await retried(ctx, () =>
      o.ledger.fail(
        job,
        o.workerId,
        {
          error: !cancelled
            ? f.message
            : signal.reason === CANCEL_REQUESTED
              ? 'cancelled while it ran'
              : 'the run was cancelled while it ran',
          errorContext: { kind: f.kind, attempts: job.attempts, ...f.context },
          retryable: f.retryable,
          retryDelayMs: delayMs,
          cancelled,
          maxAttempts: attemptsAllowed(task, o.maxAttempts, job.maxAttempts),
          assets,
          codeVersion: task.codeVersion,
        },
        failedAt,
      ),
    ).catch((e: unknown) => {
      if (isLeaseLost(e)) return undefined;
      throw e;
    });
    if (!failed) return;
    const { job: after, downstream } = failed;
    if (after.state === 'failed') o.onEvent?.({ type: 'retry', task: job.task, attempt: job.attempts, delayMs, error: f.message });
    else o.onEvent?.({ type: 'finish', task: job.task, job: after });
    for (const d of downstream) o.onEvent?.({ type: 'skip', task: d.task, job: d });
  } finally {
    database?.release();
  }
}

/**
 * A job back after its worker died between its data's commit (DuckDB) and its completion (the
 * ledger): when the data's completion marker says it committed, records that outcome instead
 * of running the task again. Returns whether it did.
 */
async function recordCommitted(o: WorkerOptions, ctx: Ctx, job: ClaimedJob, instance: DuckDBInstance): Promise<boolean> {
  const conn = await instance.connect();
  let committed;
  try {
    committed = await findCompletionMarker(conn, job.id);
  } finally {
    conn.closeSync();
  }
  if (!committed) return false;
  const now = o.clock();
  await retried(ctx, () => o.ledger.complete(job, o.workerId, committed.outcome, now));
  o.onEvent?.({ type: 'recovered', task: job.task, attempt: committed.attempt });
  o.onEvent?.({
    type: 'finish',
    task: job.task,
    job: {
      ...job,
      state: 'succeeded',
      finishedAt: now,
      rows: committed.outcome.rows,
      result: committed.outcome.result,
      watermark: committed.outcome.watermark,
      codeVersion: committed.outcome.codeVersion,
    },
  });
  return true;
}

async function runSql(
  o: WorkerOptions,
  ctx: Ctx,
  job: ClaimedJob,
  task: TaskDefinition,
  signal: AbortSignal,
  assets: string[],
  instance: DuckDBInstance,
): Promise<void> {
  const startedAt = job.startedAt ?? o.clock();
  const statements = prepareStatements(task);
  // The watermark is kept in the database beside the data it describes (an older version kept
  // it in the ledger only: read there when the database has none). --full-refresh starts over.
  const recorded = async (conn: DuckDBConnection): Promise<string | null> =>
    task.incrementalBy === null || o.fullRefresh
      ? null
      : ((await storedWatermark(conn, task.name, job.partitionKey)) ??
        (await retried(ctx, () => o.ledger.lastWatermark(task.name, job.partitionKey))));
  const variables: Record<TemplateVariable, VariableValue> = {
    last_processed_at: async (conn) => resolveWatermark(conn, task, await recorded(conn)),
    now: formatSqlTimestamp(startedAt),
    run_id: job.id,
  };
  let completed: JobRecord | undefined;
  // The ledger gave the job up while completing it: not a failure of the task (the attempt
  // failure it turns into on its way out of the attempt is not what happened).
  let unrecorded: unknown;
  for (let conflict = 0; ; conflict++) {
    try {
      await runSqlAttempt({
        instance,
        task,
        statements,
        variables,
        timeoutMs: timeoutOf(o, task),
        signal,
        commit: async (res: AttemptSuccess, tx: DataTransaction) => {
          const now = o.clock();
          // The next load's position commits with the data that moved it.
          const data: DataTransaction =
            task.incrementalBy !== null && res.watermark !== null
              ? { ...tx, beforeCommit: [storeWatermarkSql(task.name, job.partitionKey, res.watermark, job.id, now)] }
              : tx;
          // The first try commits the data transaction; a try after a lost connection records the completion only.
          await retried(ctx, (retry) =>
            o.ledger.complete(
              job,
              o.workerId,
              { rows: res.rows, result: null, watermark: res.watermark, codeVersion: task.codeVersion, assets },
              now,
              retry === 0 ? data : undefined,
            ),
          ).catch((err: unknown) => {
            if (isLeaseLost(err)) unrecorded = err;
            throw err;
          });
          completed = {
            ...job,
            state: 'succeeded',
            finishedAt: now,
            rows: res.rows,
            watermark: res.watermark,
            codeVersion: task.codeVersion,
          };
        },
      });
      o.onEvent?.({ type: 'finish', task: job.task, job: completed! });
      return;
    } catch (err) {
      if (unrecorded !== undefined) throw unrecorded;
      if (err instanceof AttemptFailure && err.kind === 'conflict' && conflict < CONFLICT_RETRIES && !signal.aborted) {
        await new Promise((r) => setTimeout(r, 5 + Math.floor(o.random() * 20 * (conflict + 1))));
        continue;
      }
      throw err;
    }
  }
}

async function runFunction(
  o: WorkerOptions,
  ctx: Ctx,
  job: ClaimedJob,
  task: TaskDefinition,
  signal: AbortSignal,
  assets: string[],
  instance: DuckDBInstance | undefined,
  handOff: HandOff,
): Promise<void> {
  if (!o.functions)
    throw new AttemptFailure('definition', `task \`${task.name}\` is a TypeScript function, which this worker cannot run`, {});
  // Root tasks get the run's payload; the others their upstream tasks' results, whether or not those ran in this run.
  const inputs = task.dependsOn.length === 0 ? job.runInputs : await retried(ctx, () => o.ledger.upstreamResults(job, task.dependsOn));
  let committedAt: Date | undefined;
  let unrecorded: unknown;
  const { result, committed } = await o
    .functions({
      job,
      task,
      inputs,
      instance,
      timeoutMs: timeoutOf(o, task),
      signal,
      log: (message) => o.onEvent?.({ type: 'log', task: job.task, message }),
      commit: async (value, tx) => {
        const at = (committedAt = o.clock());
        // As for SQL: the data transaction commits on the first try only.
        await retried(ctx, (retry) =>
          o.ledger.complete(
            job,
            o.workerId,
            { rows: null, result: value, watermark: null, codeVersion: task.codeVersion, assets },
            at,
            retry === 0 ? tx : undefined,
          ),
        ).catch((err: unknown) => {
          if (isLeaseLost(err)) unrecorded = err;
          throw err;
        });
      },
    })
    .catch((err: unknown) => {
      // See runSql: the ledger gave the job up, the task did not fail.
      throw unrecorded ?? err;
    });
  const now = committedAt ?? o.clock();
  const finished = () =>
    o.onEvent?.({
      type: 'finish',
      task: job.task,
      job: { ...job, state: 'succeeded', finishedAt: now, result, codeVersion: task.codeVersion },
    });
  if (committed) finished();
  else handOff.completeLater(job, { rows: null, result, watermark: null, codeVersion: task.codeVersion, assets }, finished);
}

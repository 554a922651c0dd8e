/**
 * The worker loop: claim ready jobs from the ledger, hand each to the runner of its task's kind,
 * keep the leases alive, enforce timeouts and cancellation, and complete or fail the job. A
 * failed attempt with retries left gets a later `run_at` in the ledger and frees its slot at
 * once: waiting for a retry never holds a slot. `duck-orch run` is one of these loops working
 * its own run in-process; `duck-orch worker` is one working every run until stopped.
 */
import { DuckorchError } from '../errors.js';
import type { ClaimOptions, ClaimedJob, SuccessOutcome } from '../store/ledger.js';
import { Reconnect, isConnectionLost } from './reconnect.js';
import type { WorkerOptions } from './worker-options.js';
import {
  CANCEL_REQUESTED,
  DATABASE_LOST,
  LEASE_LOST,
  SHUTDOWN,
  execute,
  isLeaseLost,
  retried,
  type Ctx,
  type HandOff,
} from './job-execution.js';

export type { DatabaseSlot, FunctionRunner, RunEvent, WorkerOptions } from './worker-options.js';

/** Jobs that take less than this on average are claimed ahead (`WorkerOptions.prefetch`). */
const SHORT_JOB_MS = 20;
/** Jobs claimed ahead cover the slots' work for this many round trips of the ledger. */
const AHEAD_ROUND_TRIPS = 4;
/** Past a lease's expiry before reaping it (clocks of machines differ a little). */
const REAP_MARGIN_MS = 10;

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

async function drain(inflight: ReadonlyMap<string, unknown>, setWake: (w: () => void) => void): Promise<void> {
  while (inflight.size > 0) await new Promise<void>((resolve) => setWake(resolve));
}

/**
 * The job state machine. A job is one (run, task, partition) unit of work in the ledger:
 *
 *   pending ──claim──► processing ──succeed──► succeeded
 *      ▲                   │ fail, attempts left ──► failed (waits for its retry at `run_at`) ──claim──► processing
 *      │                   │ fail, none left / not retryable ──► dead ──(downstream)──► blocked
 *      │                   │ release (worker shutting down) ──► pending, the attempt not counted
 *      │                   └ lease expired (worker died) ──► pending, the attempt not counted
 *      └── unblock (the dead upstream later succeeded) ◄── blocked
 *   skipped: the task is missing from the definitions; cancelled: by the user or a cancelled run.
 *   A job cancelled while it runs stays processing, its cancel requested, until its worker stops
 *   it (fail as cancelled) — or hands it back, or dies: then it is cancelled instead of pending —
 *   so that nothing else of its task and partition starts while it may still write.
 *   retry (operator): dead | failed | blocked | skipped | cancelled ──► pending, attempts reset.
 *
 * Pure: time comes in as `now`, the retry delay as a number (the caller draws the jitter).
 * Stores apply the same rules in their own SQL; the conformance suite holds them to this model.
 */

export const JOB_STATES = ['pending', 'processing', 'succeeded', 'failed', 'dead', 'skipped', 'blocked', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job leaves only by an operator's `retry`. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'dead', 'skipped', 'cancelled']);

/** States in which a worker may take the job once its `run_at` has come and its upstream jobs are done. */
export const CLAIMABLE_STATES: ReadonlySet<JobState> = new Set(['pending', 'failed']);

/** An upstream job in one of these states lets its downstream jobs run. */
export const SATISFYING_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'skipped']);

export interface Job {
  state: JobState;
  /** Attempts started and counted (a released or lost attempt is not counted). */
  attempts: number;
  maxAttempts: number;
  /** Not before this time: the enqueue time, or when a retry is due. */
  runAt: Date;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** When the current (or last) attempt started. */
  startedAt: Date | null;
  finishedAt: Date | null;
  lastError: string | null;
  /** Cancelled while processing: its worker is to stop it. */
  cancelRequested: boolean;
}

export type JobEvent =
  | { type: 'claim'; worker: string; leaseMs: number }
  | { type: 'heartbeat'; worker: string; leaseMs: number }
  | { type: 'succeed'; worker: string }
  /** `retryable: false` for failures that would only repeat (a failed test, a definition error). */
  | { type: 'fail'; worker: string; error: string; retryable: boolean; retryDelayMs: number }
  | { type: 'release'; worker: string }
  | { type: 'expire' }
  | { type: 'skip'; reason: string }
  | { type: 'block'; reason: string }
  | { type: 'unblock' }
  | { type: 'cancel'; reason: string }
  /** A cancel that reaches a job while it runs. */
  | { type: 'requestCancel'; reason: string }
  | { type: 'retry' };

export class JobTransitionError extends Error {
  constructor(
    readonly from: JobState,
    readonly event: JobEvent['type'],
    reason: string,
  ) {
    super(`cannot ${event} a ${from} job: ${reason}`);
  }
}

export function newJob(maxAttempts: number, now: Date): Job {
  return {
    state: 'pending',
    attempts: 0,
    maxAttempts: Math.max(1, maxAttempts),
    runAt: now,
    leaseOwner: null,
    leaseExpiresAt: null,
    startedAt: null,
    finishedAt: null,
    lastError: null,
    cancelRequested: false,
  };
}

export function isClaimable(job: Job, now: Date): boolean {
  return CLAIMABLE_STATES.has(job.state) && job.runAt.getTime() <= now.getTime();
}

export function leaseExpired(job: Job, now: Date): boolean {
  return job.state === 'processing' && job.leaseExpiresAt !== null && job.leaseExpiresAt.getTime() <= now.getTime();
}

/** The job after `event` at `now`; throws `JobTransitionError` when the event does not apply. */
export function transition(job: Job, event: JobEvent, now: Date): Job {
  const refuse = (reason: string): never => {
    throw new JobTransitionError(job.state, event.type, reason);
  };
  const owned = (worker: string) => {
    if (job.state !== 'processing') refuse('it is not being processed');
    if (job.leaseOwner !== worker) refuse(`its lease belongs to ${job.leaseOwner ?? 'nobody'}, not ${worker}`);
  };
  const unleased = { leaseOwner: null, leaseExpiresAt: null, cancelRequested: false };
  // A job whose cancel was requested while it ran ends cancelled however its worker lets go of it.
  const stoppedAfterCancel = (): Job => ({ ...job, ...unleased, state: 'cancelled', finishedAt: now });
  switch (event.type) {
    case 'claim':
      if (!isClaimable(job, now)) refuse(CLAIMABLE_STATES.has(job.state) ? 'its retry is not due yet' : 'it is not waiting to run');
      return {
        ...job,
        state: 'processing',
        attempts: job.attempts + 1,
        leaseOwner: event.worker,
        leaseExpiresAt: new Date(now.getTime() + event.leaseMs),
        startedAt: now,
        finishedAt: null,
        cancelRequested: false,
      };
    case 'heartbeat':
      owned(event.worker);
      return { ...job, leaseExpiresAt: new Date(now.getTime() + event.leaseMs) };
    case 'succeed':
      owned(event.worker);
      return { ...job, ...unleased, state: 'succeeded', finishedAt: now, lastError: null };
    case 'fail': {
      owned(event.worker);
      const again = event.retryable && job.attempts < job.maxAttempts;
      return again
        ? {
            ...job,
            ...unleased,
            state: 'failed',
            finishedAt: now,
            lastError: event.error,
            runAt: new Date(now.getTime() + event.retryDelayMs),
          }
        : { ...job, ...unleased, state: 'dead', finishedAt: now, lastError: event.error };
    }
    case 'release':
      owned(event.worker);
      if (job.cancelRequested) return stoppedAfterCancel();
      return { ...job, ...unleased, state: 'pending', attempts: job.attempts - 1, runAt: now };
    case 'expire':
      if (!leaseExpired(job, now)) refuse('its lease has not expired');
      if (job.cancelRequested) return stoppedAfterCancel();
      return { ...job, ...unleased, state: 'pending', attempts: job.attempts - 1, runAt: now, lastError: 'the worker holding it stopped' };
    case 'skip':
      if (job.state !== 'pending' && job.state !== 'processing') refuse('only a job that has not run can be skipped');
      return { ...job, ...unleased, state: 'skipped', finishedAt: now, lastError: event.reason };
    case 'block':
      if (!CLAIMABLE_STATES.has(job.state)) refuse('only a job waiting to run can be blocked');
      return { ...job, state: 'blocked', lastError: event.reason };
    case 'unblock':
      if (job.state !== 'blocked') refuse('it is not blocked');
      return { ...job, state: 'pending', runAt: now, lastError: null };
    case 'cancel':
      if (FINAL_STATES.has(job.state)) refuse('it has already finished');
      return { ...job, ...unleased, state: 'cancelled', finishedAt: now, lastError: event.reason };
    case 'requestCancel':
      if (job.state !== 'processing') refuse('it is not running');
      return { ...job, cancelRequested: true, lastError: event.reason };
    case 'retry':
      if (job.state === 'pending' || job.state === 'processing' || job.state === 'succeeded')
        refuse('only a job that did not succeed can be retried');
      return { ...job, ...unleased, state: 'pending', attempts: 0, runAt: now, startedAt: null, finishedAt: null, lastError: null };
  }
}

/** What a job waiting on upstream jobs may do, given their states. */
export function readiness(upstream: Iterable<JobState>): 'ready' | 'wait' | 'block' | 'cancel' {
  let ready = true;
  let cancelled = false;
  for (const s of upstream) {
    if (s === 'dead' || s === 'blocked') return 'block';
    if (s === 'cancelled') cancelled = true;
    if (!SATISFYING_STATES.has(s)) ready = false;
  }
  if (cancelled) return 'cancel';
  return ready ? 'ready' : 'wait';
}

export const RUN_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];

/**
 * A run's state from its jobs' states: done when nothing can move any more (every job final or
 * blocked behind a dead one); failed when a job is dead or blocked; cancelled when the user cut it short.
 */
export function runState(counts: Readonly<Partial<Record<JobState, number>>>): RunState {
  const n = (s: JobState) => counts[s] ?? 0;
  if (n('processing') > 0) return 'running';
  if (n('pending') + n('failed') > 0)
    return n('succeeded') + n('dead') + n('skipped') + n('blocked') + n('cancelled') > 0 ? 'running' : 'queued';
  if (n('cancelled') > 0) return 'cancelled';
  if (n('dead') + n('blocked') > 0) return 'failed';
  return 'succeeded';
}

/** The partition key of an unpartitioned task (what `__orch__.runs` has always shown). */
export const DEFAULT_PARTITION = '__default__';

/** How a job is named in logs: its task, and its partition in brackets when it has one (`daily_sales[2026-01-05]`). */
export function jobLabel(job: { task: string; partitionKey: string }): string {
  return job.partitionKey === DEFAULT_PARTITION ? job.task : `${job.task}[${job.partitionKey}]`;
}

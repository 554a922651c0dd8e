import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FINAL_STATES,
  JOB_STATES,
  JobTransitionError,
  newJob,
  readiness,
  runState,
  transition,
  type Job,
  type JobEvent,
  type JobState,
} from '../../../src/model/jobs/job-state.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

const eventArb: fc.Arbitrary<JobEvent> = fc.oneof(
  fc.record({ type: fc.constant('claim' as const), worker: fc.constantFrom('w1', 'w2'), leaseMs: fc.integer({ min: 1, max: 60_000 }) }),
  fc.record({ type: fc.constant('heartbeat' as const), worker: fc.constantFrom('w1', 'w2'), leaseMs: fc.integer({ min: 1, max: 60_000 }) }),
  fc.record({ type: fc.constant('succeed' as const), worker: fc.constantFrom('w1', 'w2') }),
  fc.record({
    type: fc.constant('fail' as const),
    worker: fc.constantFrom('w1', 'w2'),
    error: fc.constant('boom'),
    retryable: fc.boolean(),
    retryDelayMs: fc.integer({ min: 0, max: 10_000 }),
  }),
  fc.record({ type: fc.constant('release' as const), worker: fc.constantFrom('w1', 'w2') }),
  fc.constant({ type: 'expire' as const }),
  fc.constant({ type: 'skip' as const, reason: 'missing' }),
  fc.constant({ type: 'block' as const, reason: 'upstream dead' }),
  fc.constant({ type: 'unblock' as const }),
  fc.constant({ type: 'cancel' as const, reason: 'user' }),
  fc.constant({ type: 'requestCancel' as const, reason: 'user' }),
  fc.constant({ type: 'retry' as const }),
);

/** Applies each (event, time step) where the model allows it; refused events leave the job as it was. */
function play(job: Job, steps: ReadonlyArray<[JobEvent, number]>, check: (before: Job, e: JobEvent, after: Job, now: Date) => void) {
  let now = T0;
  for (const [event, step] of steps) {
    now = new Date(now.getTime() + step);
    const frozen = structuredClone(job);
    let next: Job;
    try {
      next = transition(job, event, now);
    } catch (err) {
      expect(err).toBeInstanceOf(JobTransitionError);
      expect(job).toEqual(frozen);
      continue;
    }
    expect(job).toEqual(frozen); // never mutated
    check(job, event, next, now);
    job = next;
  }
  return job;
}

const stepsArb = fc.array(fc.tuple(eventArb, fc.integer({ min: 0, max: 20_000 })), { maxLength: 60 });

describe('job state machine', () => {
  it('holds its invariants under any sequence of events', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), stepsArb, (maxAttempts, steps) => {
        play(newJob(maxAttempts, T0), steps, (before, e, after, now) => {
          // A lease exists exactly while the job is processing.
          expect(after.leaseOwner !== null).toBe(after.state === 'processing');
          expect(after.leaseExpiresAt !== null).toBe(after.state === 'processing');
          expect(after.attempts).toBeGreaterThanOrEqual(0);
          expect(after.attempts).toBeLessThanOrEqual(after.maxAttempts);
          // Only an operator's retry leaves a final state.
          if (FINAL_STATES.has(before.state)) expect(e.type).toBe('retry');
          // A failed job always has an attempt left and waits until its retry is due.
          if (after.state === 'failed' && before.state === 'processing') {
            expect(after.attempts).toBeLessThan(after.maxAttempts);
            expect(after.runAt.getTime()).toBeGreaterThanOrEqual(now.getTime());
          }
          // Only the lease holder finishes, fails, heartbeats or releases a job.
          if ('worker' in e && e.type !== 'claim') expect(before.leaseOwner).toBe(e.worker);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('a job that keeps failing is tried exactly maxAttempts times, then dead', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5000 }), (maxAttempts, delay) => {
        let job = newJob(maxAttempts, T0);
        let now = T0;
        let claims = 0;
        while (job.state !== 'dead') {
          now = job.runAt > now ? job.runAt : now;
          job = transition(job, { type: 'claim', worker: 'w', leaseMs: 1000 }, now);
          claims++;
          job = transition(job, { type: 'fail', worker: 'w', error: 'x', retryable: true, retryDelayMs: delay }, now);
          if (job.state === 'failed')
            expect(() => transition(job, { type: 'claim', worker: 'w', leaseMs: 1 }, new Date(now.getTime() + delay - 1))).toThrow(
              delay > 0 ? /not due/ : /./,
            );
        }
        expect(claims).toBe(maxAttempts);
        expect(job.lastError).toBe('x');
      }),
    );
  });

  it('releases and lost leases do not use up attempts', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 20 }), (releases) => {
        let job = newJob(1, T0);
        let now = T0;
        for (const graceful of releases) {
          job = transition(job, { type: 'claim', worker: 'w', leaseMs: 1000 }, now);
          now = at(now.getTime() - T0.getTime() + 1000);
          job = transition(job, graceful ? { type: 'release', worker: 'w' } : { type: 'expire' }, now);
          expect(job.state).toBe('pending');
          expect(job.attempts).toBe(0);
        }
      }),
    );
  });

  it('a non-retryable failure is dead at once, whatever attempts are left', () => {
    let job = transition(newJob(5, T0), { type: 'claim', worker: 'w', leaseMs: 10 }, T0);
    job = transition(job, { type: 'fail', worker: 'w', error: 'test failed', retryable: false, retryDelayMs: 0 }, at(5));
    expect(job).toMatchObject({ state: 'dead', attempts: 1, lastError: 'test failed', finishedAt: at(5) });
  });

  it('keeps the start time of an attempt and refuses another worker', () => {
    const job = transition(newJob(2, T0), { type: 'claim', worker: 'w1', leaseMs: 1000 }, at(100));
    expect(job).toMatchObject({ state: 'processing', startedAt: at(100), leaseExpiresAt: at(1100), attempts: 1 });
    expect(() => transition(job, { type: 'succeed', worker: 'w2' }, at(200))).toThrow(/belongs to w1, not w2/);
    expect(() => transition(job, { type: 'expire' }, at(1099))).toThrow(/not expired/);
    expect(transition(job, { type: 'heartbeat', worker: 'w1', leaseMs: 1000 }, at(900)).leaseExpiresAt).toEqual(at(1900));
  });

  it('retry resets a finished job that did not succeed, and nothing else', () => {
    for (const state of JOB_STATES) {
      const job: Job = { ...newJob(3, T0), state, attempts: 2 };
      if (state === 'processing') Object.assign(job, { leaseOwner: 'w', leaseExpiresAt: at(1) });
      const allowed = !['pending', 'processing', 'succeeded'].includes(state);
      if (allowed) expect(transition(job, { type: 'retry' }, at(10))).toMatchObject({ state: 'pending', attempts: 0, runAt: at(10) });
      else expect(() => transition(job, { type: 'retry' }, at(10))).toThrow(JobTransitionError);
    }
  });
});

describe('readiness', () => {
  it.each<[JobState[], string]>([
    [[], 'ready'],
    [['succeeded', 'skipped'], 'ready'],
    [['succeeded', 'pending'], 'wait'],
    [['failed'], 'wait'],
    [['processing', 'dead'], 'block'],
    [['blocked'], 'block'],
    [['cancelled', 'succeeded'], 'cancel'],
    [['cancelled', 'dead'], 'block'],
  ])('%j → %s', (states, expected) => {
    expect(readiness(states)).toBe(expected);
  });
});

describe('runState', () => {
  it.each<[Partial<Record<JobState, number>>, string]>([
    [{ pending: 3 }, 'queued'],
    [{ pending: 2, succeeded: 1 }, 'running'],
    [{ processing: 1, dead: 1 }, 'running'],
    [{ failed: 1 }, 'queued'],
    [{ succeeded: 3, skipped: 1 }, 'succeeded'],
    [{ succeeded: 1, dead: 1, blocked: 2 }, 'failed'],
    [{ succeeded: 1, cancelled: 2, dead: 1 }, 'cancelled'],
    [{}, 'succeeded'],
  ])('%j → %s', (counts, expected) => {
    expect(runState(counts)).toBe(expected);
  });
});

describe('a cancel that reaches a running job', () => {
  const running = () => transition(newJob(3, T0), { type: 'claim', worker: 'w1', leaseMs: 1000 }, T0);

  it('leaves it processing, cancel requested, until its worker stops it', () => {
    const asked = transition(running(), { type: 'requestCancel', reason: 'by the user' }, at(1));
    expect(asked).toMatchObject({ state: 'processing', cancelRequested: true, leaseOwner: 'w1', lastError: 'by the user' });
    expect(transition(asked, { type: 'cancel', reason: 'stopped' }, at(2))).toMatchObject({ state: 'cancelled', cancelRequested: false });
  });

  it('ends cancelled, not pending, when its worker hands it back or its lease runs out', () => {
    const asked = transition(running(), { type: 'requestCancel', reason: 'by the user' }, at(1));
    expect(transition(asked, { type: 'release', worker: 'w1' }, at(2))).toMatchObject({ state: 'cancelled', leaseOwner: null });
    expect(transition(asked, { type: 'expire' }, at(5000))).toMatchObject({ state: 'cancelled', lastError: 'by the user' });
  });

  it('a success that lands first is a success', () => {
    const asked = transition(running(), { type: 'requestCancel', reason: 'by the user' }, at(1));
    expect(transition(asked, { type: 'succeed', worker: 'w1' }, at(2))).toMatchObject({ state: 'succeeded', cancelRequested: false });
  });

  it('is refused for a job that is not running', () => {
    expect(() => transition(newJob(1, T0), { type: 'requestCancel', reason: 'x' }, T0)).toThrow(JobTransitionError);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attemptsAllowed, retryDelayMs } from '../../src/model/retry.js';

const policy = { baseMs: 1000, maxMs: 30_000 };

describe('retryDelayMs', () => {
  it.each<[number, number, number]>([
    // [retry, random() = 0, random() → 1]
    [1, 500, 1000],
    [2, 1000, 2000],
    [3, 2000, 4000],
    [4, 4000, 8000],
    [5, 8000, 16000],
    [6, 15000, 30000],
    [20, 15000, 30000],
  ])('retry %i waits between %i and %i ms', (retry, lo, hi) => {
    expect(retryDelayMs(retry, policy, () => 0)).toBe(lo);
    expect(retryDelayMs(retry, policy, () => 0.999999999)).toBe(hi);
    expect(retryDelayMs(retry, policy, () => 0.5)).toBe(Math.round(lo + (hi - lo) / 2));
  });

  it('treats retry 0 (and below) like the first retry', () => {
    expect(retryDelayMs(0, policy, () => 0)).toBe(500);
    expect(retryDelayMs(-3, policy, () => 0)).toBe(500);
  });

  it('never exceeds the cap, even for huge retry counts', () => {
    expect(retryDelayMs(10_000, policy, () => 0.999999)).toBe(30_000);
  });

  it('stays within [ceiling/2, ceiling] for any retry, policy and random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, baseMs, maxMs, r) => {
          const ceiling = Math.min(maxMs, baseMs * 2 ** (retry - 1));
          const d = retryDelayMs(retry, { baseMs, maxMs }, () => r);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(d).toBeLessThanOrEqual(ceiling);
          expect(d).toBeLessThanOrEqual(maxMs);
        },
      ),
    );
  });

  it('is monotone in the random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, r1, r2) => {
          const [lo, hi] = r1 <= r2 ? [r1, r2] : [r2, r1];
          expect(retryDelayMs(retry, policy, () => lo)).toBeLessThanOrEqual(retryDelayMs(retry, policy, () => hi));
        },
      ),
    );
  });

  it('calls random exactly once per delay', () => {
    let calls = 0;
    retryDelayMs(3, policy, () => {
      calls++;
      return 0.3;
    });
    expect(calls).toBe(1);
  });
});

describe('attemptsAllowed: the task, then the worker, then the enqueue', () => {
  const own = { retries: 2, keyLocations: { retries: { line: 2, col: 12 } } };
  const none = { retries: 0, keyLocations: {} };
  it('a task’s own retries win over the worker’s setting', () => expect(attemptsAllowed(own, 10, 1)).toBe(3));
  it('the worker’s setting wins over what was recorded at enqueue', () => expect(attemptsAllowed(none, 5, 1)).toBe(5));
  it('without either, what was recorded at enqueue', () => expect(attemptsAllowed(none, undefined, 4)).toBe(4));
});

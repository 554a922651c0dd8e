import { describe, expect, it } from 'vitest';
import { DuckorchError } from '../../src/errors.js';
import { Reconnect, isConnectionLost } from '../../src/runtime/reconnect.js';

const lost = () => new DuckorchError('DB_UNAVAILABLE', 'lost the connection to PostgreSQL at db:5432: Connection terminated unexpectedly');

/** Fails with a lost connection `n` times, then answers. */
function flaky<T>(n: number, value: T) {
  const calls: number[] = [];
  return {
    calls,
    fn: async (retry: number): Promise<T> => {
      calls.push(retry);
      if (calls.length <= n) throw lost();
      return value;
    },
  };
}

describe('riding out a lost ledger connection', () => {
  it('retries a lost connection with doubling, capped, jittered delays; says so once per step and when back', async () => {
    const notices: string[] = [];
    let now = 0;
    // random() = 1: the full delay (jitter takes between half and all of it), so the notices are predictable.
    const r = new Reconnect({ random: () => 1, notice: (m) => notices.push(m), clock: () => now, baseMs: 1, maxMs: 4 });
    const f = flaky(4, 'ok');
    const done = r.call((retry) => {
      now += 1000;
      return f.fn(retry);
    });
    expect(await done).toBe('ok');
    expect(f.calls).toEqual([0, 1, 2, 3, 4]);
    expect(notices).toEqual([
      'lost the connection to PostgreSQL at db:5432 (Connection terminated unexpectedly); retrying in 1ms',
      'lost the connection to PostgreSQL at db:5432 (Connection terminated unexpectedly); retrying in 2ms',
      'lost the connection to PostgreSQL at db:5432 (Connection terminated unexpectedly); retrying in 4ms',
      'lost the connection to PostgreSQL at db:5432 (Connection terminated unexpectedly); retrying in 4ms',
      'reconnected to PostgreSQL after 4s',
    ]);
  });

  it('announces each backoff step once, however many calls wait through the same outage', async () => {
    const notices: string[] = [];
    const r = new Reconnect({ random: () => 0, notice: (m) => notices.push(m), baseMs: 1, maxMs: 2 });
    const calls = [flaky(2, 1), flaky(2, 2), flaky(2, 3)];
    expect(await Promise.all(calls.map((c) => r.call(c.fn)))).toEqual([1, 2, 3]);
    expect(notices.filter((n) => n.startsWith('lost'))).toHaveLength(2);
    expect(notices.filter((n) => n.startsWith('reconnected'))).toHaveLength(1);
  });

  it('gives up waiting when stopped, with the lost connection', async () => {
    const notices: string[] = [];
    const stop = new AbortController();
    // Stopped as the first wait begins (a minute: the test times out if the stop is missed).
    const r = new Reconnect({
      random: () => 1,
      notice: (m) => {
        notices.push(m);
        stop.abort();
      },
      baseMs: 60_000,
      maxMs: 60_000,
    });
    const call = r.call(async () => {
      throw lost();
    }, stop.signal);
    await expect(call).rejects.toMatchObject({ code: 'DB_UNAVAILABLE' });
    expect(notices).toEqual(['lost the connection to PostgreSQL at db:5432 (Connection terminated unexpectedly); retrying in 60s']);
  });

  it('throws any other error at once, without a retry or a notice', async () => {
    const notices: string[] = [];
    const r = new Reconnect({ random: () => 0.5, notice: (m) => notices.push(m), baseMs: 1 });
    let calls = 0;
    const refused = new DuckorchError('LEASE_LOST', 'job j was not held by w');
    await expect(
      r.call(async () => {
        calls++;
        throw refused;
      }),
    ).rejects.toBe(refused);
    await expect(
      r.call(async () => {
        calls++;
        throw new Error('relation "jobs" does not exist');
      }),
    ).rejects.toThrow(/does not exist/);
    expect(calls).toBe(2);
    expect(notices).toEqual([]);
    expect(isConnectionLost(refused)).toBe(false);
    expect(isConnectionLost(lost())).toBe(true);
  });

  it('a call stopped before it must wait fails with the lost connection', async () => {
    const stop = new AbortController();
    stop.abort();
    const r = new Reconnect({ random: () => 0.5, baseMs: 10_000 });
    const f = flaky(1, 'never');
    await expect(r.call(f.fn, stop.signal)).rejects.toMatchObject({ code: 'DB_UNAVAILABLE' });
    expect(f.calls).toEqual([0]);
  });
});

/**
 * Riding out a ledger that goes away for a while (PostgreSQL restarting, a network blip): a
 * worker's calls that fail because the connection was lost (DB_UNAVAILABLE) are tried again with
 * exponential backoff, capped and jittered, instead of ending the worker. Every other error is
 * the caller's, as before. One notice per backoff step and one when the ledger answers again, so
 * that a worker's log says what happened without a line per in-flight call.
 */
import { DuckorchError } from '../errors.js';

export interface ReconnectOptions {
  random: () => number;
  /** A line for the worker's log. */
  notice?: (message: string) => void;
  clock?: () => number;
  baseMs?: number;
  maxMs?: number;
}

export const RECONNECT_BASE_MS = 500;
export const RECONNECT_MAX_MS = 10_000;

export function isConnectionLost(err: unknown): err is DuckorchError {
  return err instanceof DuckorchError && err.code === 'DB_UNAVAILABLE';
}

/** `250ms`, `2s`, `1.5s`: how the notices say a delay. */
function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}

export class Reconnect {
  /** When the current outage began (undefined while the ledger answers). */
  private since: number | undefined;
  /** The deepest backoff step announced in this outage. */
  private announced = 0;

  constructor(private readonly o: ReconnectOptions) {}

  /**
   * `fn` until it settles otherwise than by a lost connection. `fn` is told how many times it
   * failed so (0 on the first call), for calls whose retry differs from their first try. When
   * `stop` aborts during a wait, the connection error is thrown.
   */
  async call<T>(fn: (retry: number) => Promise<T>, stop?: AbortSignal): Promise<T> {
    for (let retry = 0; ; retry++) {
      let result: T;
      try {
        result = await fn(retry);
      } catch (err) {
        if (!isConnectionLost(err) || stop?.aborted) throw err;
        await this.wait(err, retry, stop);
        continue;
      }
      this.answered();
      return result;
    }
  }

  private now(): number {
    return this.o.clock?.() ?? Date.now();
  }

  private async wait(err: DuckorchError, retry: number, stop: AbortSignal | undefined): Promise<void> {
    const base = this.o.baseMs ?? RECONNECT_BASE_MS;
    const capped = Math.min(this.o.maxMs ?? RECONNECT_MAX_MS, base * 2 ** Math.min(retry, 20));
    // Jitter, so that many workers do not all knock at once when the server comes back.
    const delay = capped * (0.5 + this.o.random() / 2);
    this.since ??= this.now();
    if (retry + 1 > this.announced) {
      this.announced = retry + 1;
      const [, where = '', reason = err.message] = /^lost the connection to PostgreSQL( at \S+)?: (.*)$/s.exec(err.message) ?? [];
      this.o.notice?.(`lost the connection to PostgreSQL${where} (${reason}); retrying in ${seconds(delay)}`);
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      stop?.addEventListener('abort', done, { once: true });
      if (stop?.aborted) done();
    });
    if (stop?.aborted) throw err;
  }

  private answered(): void {
    if (this.since === undefined) return;
    const down = this.now() - this.since;
    this.since = undefined;
    this.announced = 0;
    this.o.notice?.(`reconnected to PostgreSQL after ${seconds(down)}`);
  }
}

/**
 * Exponential backoff with jitter. The n-th retry waits a random time between half and all of
 * `base · 2^(n-1)`, capped at `max`: spreading retries apart ("equal jitter") keeps tasks
 * that failed together from hammering a shared resource together again.
 */
export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
}

export function retryDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

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

/**
 * How many attempts a job gets, decided where it runs: its task's own `@retries` / `retries` + 1;
 * else the worker's setting (`orch_max_attempts`, Orchex's MAX_ATTEMPTS) when it has one; else
 * what was recorded when the run was enqueued.
 */
export function attemptsAllowed(
  task: { retries: number; keyLocations: Partial<Record<string, unknown>> },
  workerSetting: number | undefined,
  recorded: number,
): number {
  if (task.keyLocations.retries !== undefined) return task.retries + 1;
  return workerSetting ?? recorded;
}

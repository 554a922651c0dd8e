/**
 * The worker's periodic rate line (Orchex's `worker_metrics`): jobs claimed, succeeded and failed
 * per second since the last line, and the queue depth of what the worker works. Every
 * `orch_metrics_interval` (METRICS_FLUSH_INTERVAL); off when that is 0.
 */
import type { Project } from '../../app/project.js';
import type { RunEvent } from '../../runtime/worker.js';

export interface Metrics {
  onEvent(e: RunEvent): void;
  stop(): void;
}

export function startMetrics(p: Project, write: (line: string) => void): Metrics {
  const seconds = p.config.orch_metrics_interval;
  const counts = { claimed: 0, succeeded: 0, failed: 0 };
  if (seconds <= 0) return { onEvent: () => undefined, stop: () => undefined };
  let since = Date.now();
  const timer = setInterval(() => {
    const elapsed = Math.max(0.001, (Date.now() - since) / 1000);
    const rate = (n: number) => (n / elapsed).toFixed(2);
    const line = `metrics: claimed ${rate(counts.claimed)}/s, succeeded ${rate(counts.succeeded)}/s, failed ${rate(counts.failed)}/s`;
    counts.claimed = counts.succeeded = counts.failed = 0;
    since = Date.now();
    p.queueDepth().then(
      (depth) =>
        write(
          `${line}; queue ${Object.entries(depth)
            .map(([state, n]) => `${state} ${n}`)
            .join(', ')}`,
        ),
      () => write(line),
    );
  }, seconds * 1000);
  timer.unref();
  return {
    onEvent(e) {
      if (e.type === 'start') counts.claimed++;
      else if (e.type === 'retry') counts.failed++;
      else if (e.type === 'finish') counts[e.job.state === 'succeeded' ? 'succeeded' : 'failed']++;
    },
    stop: () => clearInterval(timer),
  };
}

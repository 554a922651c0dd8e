/**
 * The live progress bar of `run` on a terminal (stderr, so stdout stays parseable). Off when
 * stderr is not a TTY, under CI, or with `--json`: then the run is quiet until its summary.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from '../../runtime/executor.js';

export interface RunProgress {
  start(tasks: readonly string[]): void;
  onEvent(event: RunEvent): void;
  stop(): void;
}

export function progressEnabled(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && !process.env.CI;
}

export function createProgress(enabled: boolean): RunProgress {
  if (!enabled) return { start() {}, onEvent() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} tasks | {failed} failed | {running}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  const running = new Set<string>();
  const retrying = new Set<string>();
  let failed = 0;
  const payload = () => {
    const names = [...running].map((n) => (retrying.has(n) ? `${n} (retrying)` : n));
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? ` +${names.length - 3}` : '');
    return { running: names.length ? `running ${shown}` : '', failed };
  };
  return {
    start(tasks) {
      bar.start(tasks.length, 0, payload());
    },
    onEvent(event) {
      switch (event.type) {
        case 'start':
          running.add(event.task);
          if (event.attempt === 1) retrying.delete(event.task);
          bar.update(payload());
          break;
        case 'retry':
          retrying.add(event.task);
          bar.update(payload());
          break;
        case 'finish':
        case 'skip':
          running.delete(event.task);
          if (event.record.status === 'failed') failed++;
          bar.increment(1, payload());
          break;
      }
    },
    stop() {
      bar.stop();
    },
  };
}

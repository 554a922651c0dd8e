/**
 * What `run` shows on stderr while it works (stdout stays for the summary, so `--json` output
 * remains one JSON document):
 *
 * - on a terminal, a live progress bar;
 * - otherwise (stderr not a TTY, `CI` set, or `--json`), one log line per task start, retry,
 *   finish and skip, so that CI and cron logs tell what happened and when:
 *
 * ```text
 * 2026-12-02T10:00:00.123Z start  stg_orders (attempt 1)
 * 2026-12-02T10:00:01.337Z retry  stg_orders in 1.20s after attempt 1: <first line of the error>
 * 2026-12-02T10:00:02.001Z finish stg_orders succeeded in 12ms, 5000 rows
 * 2026-12-02T10:00:02.001Z finish stg_orders dead after 2 attempts: <first line of the error>
 * 2026-12-02T10:00:02.002Z skip   report blocked: upstream task `stg_orders` failed
 * ```
 *
 * Each line is an ISO-8601 UTC timestamp, the event padded to six characters, the task name
 * (which never contains spaces), and the details. The full error stays in the summary.
 */
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import type { RunEvent } from '../../runtime/worker.js';
import { durationMs, formatMs, plural } from './render.js';

export interface RunProgress {
  start(tasks: readonly string[]): void;
  onEvent(event: RunEvent): void;
  stop(): void;
}

/** Where the log lines go and what time they carry; the defaults are stderr and the system clock. */
export interface ProgressOptions {
  write?: (line: string) => void;
  clock?: () => Date;
}

export function progressEnabled(json: boolean): boolean {
  return !json && process.stderr.isTTY === true && !process.env.CI;
}

/** The progress bar when `enabled`, otherwise the line logger. */
export function createProgress(enabled: boolean, options: ProgressOptions = {}): RunProgress {
  return enabled ? progressBar() : lineLogger(options);
}

function firstLine(text: string | null): string {
  return (text ?? '').split('\n')[0]!.trim();
}

/** One log line (without its newline) for an event that happened at `at`. */
export function formatRunEvent(event: RunEvent, at: Date): string {
  const head = (verb: string) => `${at.toISOString()} ${verb.padEnd(6)} ${event.task}`;
  switch (event.type) {
    case 'start':
      return `${head('start')} (attempt ${event.attempt})`;
    case 'retry':
      return `${head('retry')} in ${formatMs(Math.round(event.delayMs))} after attempt ${event.attempt}: ${firstLine(event.error)}`;
    case 'finish': {
      const j = event.job;
      if (j.state === 'succeeded') {
        const after = j.attempts > 1 ? ` after ${j.attempts} attempts` : '';
        const rows = j.rows === null ? '' : `, ${plural(j.rows, 'row')}`;
        return `${head('finish')} succeeded in ${formatMs(durationMs(j) ?? 0)}${after}${rows}`;
      }
      return `${head('finish')} ${j.state} after ${plural(j.attempts, 'attempt')}: ${firstLine(j.error)}`;
    }
    case 'skip':
      return `${head('skip')} ${event.job.state}: ${firstLine(event.job.error)}`;
    case 'log':
      return `${head('log')}: ${event.message}`;
    case 'recovered':
      return `${head('recover')}: attempt ${event.attempt} committed its data; recorded from its completion marker, not run again`;
    case 'release':
      return `${head('release')}: handed back to the queue (${event.reason}); its changes were rolled back`;
  }
}

function lineLogger(options: ProgressOptions): RunProgress {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const clock = options.clock ?? (() => new Date());
  return {
    start() {},
    onEvent(event) {
      write(`${formatRunEvent(event, clock())}\n`);
    },
    stop() {},
  };
}

function progressBar(): RunProgress {
  // Loaded when a bar is drawn: most commands draw none, and its twenty modules cost every start.
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} jobs | ETA {eta_formatted} | {failed} failed | {running}',
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
        case 'log':
        case 'release':
          break;
        case 'finish':
        case 'skip':
          running.delete(event.task);
          if (event.job.state === 'dead') failed++;
          bar.increment(1, payload());
          break;
      }
    },
    stop() {
      bar.stop();
    },
  };
}

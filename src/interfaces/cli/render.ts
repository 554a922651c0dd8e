/** Rendering helpers shared by CLI commands: JSON shapes, tables, colours. */
import pc from 'picocolors';
import { DuckorchError, DuckorchErrors } from '../../errors.js';
import { JOB_STATES } from '../../model/jobs/job-state.js';
import type { JobRecord, RunRecord } from '../../store/ledger.js';

export { runJson } from '../../client/run-info.js';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

/** `1 file`, `2 files`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function printJson(o: Output, value: unknown): void {
  o.out(JSON.stringify(value, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? Number(v) : v), 2));
}

export function errorsOf(err: unknown): DuckorchError[] {
  if (err instanceof DuckorchErrors) return err.errors;
  if (err instanceof DuckorchError) return [err];
  return [];
}

export function renderError(e: DuckorchError): string {
  const where = e.location ? pc.bold(`${e.location.file}:${e.location.line}:${e.location.col}: `) : '';
  const expected = e.expected ? pc.dim(` (expected ${e.expected})`) : '';
  const hint = e.hint ? `\n  ${pc.cyan('hint:')} ${e.hint}` : '';
  return `${where}${pc.red('error:')} ${e.message}${expected}${hint}`;
}

export function renderWarning(e: DuckorchError): string {
  const where = e.location ? pc.bold(`${e.location.file}:${e.location.line}:${e.location.col}: `) : '';
  const hint = e.hint ? ` ${pc.dim(`(${e.hint})`)}` : '';
  return `${where}${pc.yellow('warning:')} ${e.message}${hint}`;
}

export function durationMs(r: { startedAt: Date | null; finishedAt: Date | null }): number | null {
  return r.startedAt && r.finishedAt ? r.finishedAt.getTime() - r.startedAt.getTime() : null;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '';
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(2)}s`;
}

export function jobJson(j: JobRecord): Record<string, unknown> {
  return {
    job_id: j.id,
    run_id: j.runId,
    task: j.task,
    partition_key: j.partitionKey,
    state: j.state,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
    duration_ms: durationMs(j),
    attempts: j.attempts,
    rows: j.rows,
    result: j.result,
    error: j.error,
    error_context: j.errorContext,
    last_processed_at: j.watermark,
  };
}

/** `9 succeeded, 1 dead, 2 blocked`: succeeded always, other states when present. */
export function describeCounts(counts: RunRecord['counts']): string {
  return JOB_STATES.filter((s) => s === 'succeeded' || (counts[s] ?? 0) > 0)
    .map((s) => `${counts[s] ?? 0} ${s}`)
    .join(', ');
}

const MARK: Record<string, string> = {
  succeeded: pc.green('✔'),
  dead: pc.red('✖'),
  failed: pc.red('✖'),
  skipped: pc.dim('○'),
  blocked: pc.dim('○'),
  cancelled: pc.yellow('○'),
  processing: pc.yellow('…'),
  pending: pc.dim('·'),
};

export function statusMark(status: string): string {
  return MARK[status] ?? ' ';
}

export function colourStatus(status: string): string {
  switch (status) {
    case 'succeeded':
    case 'pass':
      return pc.green(status);
    case 'dead':
    case 'failed':
    case 'fail':
    case 'error':
      return pc.red(status);
    case 'processing':
    case 'running':
    case 'cancelled':
      return pc.yellow(status);
    default:
      return pc.dim(status);
  }
}

/** Left-aligned columns; the visible width ignores ANSI colour codes. */
export function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex -- stripping ANSI colour codes is the point
  const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - visible(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatTime(d: Date | null): string {
  return d ? d.toISOString().replace('T', ' ').slice(0, 19) : '';
}

/** Rendering helpers shared by CLI commands: JSON shapes, tables, colours. */
import pc from 'picocolors';
import { DuckorchError, DuckorchErrors } from '../../errors.js';
import type { PipelineRunRecord, TaskRunRecord } from '../../store/store.js';

export interface Output {
  json: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
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

export function taskRunJson(r: TaskRunRecord): Record<string, unknown> {
  return {
    run_id: r.runId,
    pipeline_run_id: r.pipelineRunId,
    task: r.taskName,
    status: r.status,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    duration_ms: durationMs(r),
    attempts: r.attempts,
    rows: r.rowsCount,
    error: r.errorMessage,
    error_context: r.errorContext,
    last_processed_at: r.lastProcessedAt,
  };
}

export function pipelineRunJson(p: PipelineRunRecord): Record<string, unknown> {
  return {
    pipeline_run_id: p.id,
    trigger: p.trigger,
    selector: p.selector,
    status: p.status,
    started_at: p.startedAt,
    finished_at: p.finishedAt,
    duration_ms: durationMs(p),
    tasks: p.taskCount,
    succeeded: p.succeeded,
    failed: p.failed,
    skipped: p.skipped,
  };
}

const MARK: Record<string, string> = {
  success: pc.green('✔'),
  failed: pc.red('✖'),
  skipped: pc.dim('○'),
  running: pc.yellow('…'),
};

export function statusMark(status: string): string {
  return MARK[status] ?? ' ';
}

export function colourStatus(status: string): string {
  switch (status) {
    case 'success':
    case 'pass':
      return pc.green(status);
    case 'failed':
    case 'fail':
    case 'error':
    case 'interrupted':
      return pc.red(status);
    case 'running':
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

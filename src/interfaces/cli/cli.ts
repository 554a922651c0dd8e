/**
 * What every command of the CLI shares: its output (human or `--json`), the config layer, the
 * project (opened for the command, or reached through the process holding its database), the
 * run log or progress bar, and the small parsers of flags. Commands live in `commands/`, one
 * file per capability; `program.ts` puts them together.
 */
import type { Command } from 'commander';
import pc from 'picocolors';
// Only what parsing and `--help` need is imported up front: the application, config (valibot,
// smol-toml) and DuckDB's native binding cost far more to load than `--help` takes to run, so
// each action imports its implementation when it runs. Type-only imports cost nothing.
import type { Project, RequeueFilter, RunResult, Selection } from '../../app/project.js';
import type { HolderInfo, JoinOptions, ProjectApi } from '../../app/remote/socket.js';
import type { Config, LoadConfigOptions } from '../../config/config.js';
import { DuckorchError } from '../../errors.js';
import { jobLabel } from '../../model/jobs/job-state.js';
import type { RunEvent } from '../../runtime/worker.js';
import type { AccessMode } from '../../store/duckdb/database.js';
import type { JobRecord, JsonValue } from '../../store/ledger.js';
import {
  colourStatus,
  describeCounts,
  durationMs,
  formatMs,
  jobJson,
  plural,
  printJson,
  runJson,
  statusMark,
  table,
  type Output,
} from './render.js';

export interface GlobalOptions {
  db?: string;
  store?: string;
  dag?: string;
  config?: string;
  json?: boolean;
}

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** Thrown to end a command with an exit code after its output was printed. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export type ConfigFlags = Partial<Record<keyof Config, unknown>>;

/**
 * What a command needs of the database file: `ledger` means only the ledger (runs, jobs,
 * history): the file is opened, for writing, only when the ledger is inside it; with the
 * ledger in PostgreSQL it is not opened at all (or read-only, when the command needs the registry).
 */
export type CommandAccess = AccessMode | 'ledger';

/** What a command may ask either of an open project or of the process holding its database. */
export type Watchable = Pick<
  ProjectApi,
  | 'status'
  | 'list'
  | 'graph'
  | 'queueDepth'
  | 'failures'
  | 'enqueue'
  | 'cancel'
  | 'test'
  | 'register'
  | 'asset'
  | 'plan'
  | 'simulate'
  | 'automationStatus'
>;

export interface Cli {
  readonly io: CliIo;
  readonly program: Command;
  output(): Output;
  config(flags?: ConfigFlags, flagNames?: LoadConfigOptions['flagNames']): Promise<Config>;
  /** `--dag`, or `$DUCKORCH_DAG` / `$ORCHEX_DAG`. */
  dagOption(): string | undefined;
  withProject<T>(
    access: CommandAccess,
    fn: (p: Project) => Promise<T>,
    flags?: ConfigFlags,
    flagNames?: LoadConfigOptions['flagNames'],
    ledgerSchema?: 'migrate' | 'require',
  ): Promise<T>;
  /** `withProject`, except that while a `run` or `worker` holds the database the question goes to that process over its socket. */
  withProjectOrHolder<T>(access: CommandAccess, fn: (p: Watchable) => Promise<T>): Promise<T>;
  /** The process holding the database, answering as if asked with this command's `--dag`. */
  holderOf(): Promise<ProjectApi | undefined>;
  /** Runs `fn` while answering other processes on the database's socket (`app/remote/socket.ts`). */
  serving<T>(p: Project, command: HolderInfo['command'], join: (o: JoinOptions) => Promise<RunResult>, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` with the run log (or progress bar) on stderr and Ctrl-C / SIGTERM cancelling the
   * run cleanly, the project opened for writing with `--max-parallel` applied.
   */
  withRunProgress<T>(
    o: Output,
    fn: (
      p: Project,
      progress: { signal: AbortSignal; onPlan: (tasks: readonly string[]) => void; onEvent: (e: RunEvent) => void },
    ) => Promise<T>,
    maxParallel: string | undefined,
  ): Promise<T>;
}

export function createCli(program: Command, io: CliIo): Cli {
  const output = (): Output => ({ json: Boolean(program.opts<GlobalOptions>().json), out: io.out, err: io.err });
  const config = async (flags: ConfigFlags = {}, flagNames: LoadConfigOptions['flagNames'] = {}): Promise<Config> => {
    const { loadConfig } = await import('../../config/config.js');
    const g = program.opts<GlobalOptions>();
    return loadConfig({
      ...(g.config ? { file: g.config } : {}),
      env: io.env,
      dotenv: true,
      flags: { db: g.db, orch_store: g.store, ...flags },
      flagNames: { db: '--db', orch_store: '--store', ...flagNames },
    });
  };
  const dagOption = () => program.opts<GlobalOptions>().dag ?? (io.env.DUCKORCH_DAG || io.env.ORCHEX_DAG || undefined);

  const withProject: Cli['withProject'] = async (access, fn, flags = {}, flagNames = {}, ledgerSchema = 'require') => {
    const { Project } = await import('../../app/project.js');
    const dag = dagOption();
    const cfg = await config(flags, flagNames);
    const shared = cfg.orch_store === 'postgres';
    // The ledger inside the file: opening it to write also recovers what a dead process left.
    // With --dag nothing needs registering first, so a command that writes may create the file.
    const mode: AccessMode = access === 'ledger' ? (shared ? 'read' : 'write') : access;
    const project = await Project.open({
      config: cfg,
      access: dag && mode === 'write' ? 'create' : mode,
      ledgerSchema,
      ...(dag ? { dag } : {}),
    });
    try {
      return await fn(project);
    } finally {
      await project.close();
    }
  };

  const holderOf = async (): Promise<ProjectApi | undefined> => {
    const { connectToHolder } = await import('../../app/remote/socket.js');
    return connectToHolder((await config()).db, dagOption());
  };

  const withProjectOrHolder: Cli['withProjectOrHolder'] = async (access, fn) => {
    try {
      return await withProject(access, fn);
    } catch (err) {
      const holder = err instanceof DuckorchError && err.code === 'DB_LOCKED' ? await holderOf() : undefined;
      if (!holder) throw err;
      return fn(holder);
    }
  };

  const serving: Cli['serving'] = async (p, command, join, fn) => {
    const { serveProject } = await import('../../app/remote/socket.js');
    const server = await serveProject(p, { command, pid: process.pid, db: p.dbFile }, join);
    try {
      return await fn();
    } finally {
      await server.close();
    }
  };

  const withRunProgress: Cli['withRunProgress'] = async (o, fn, maxParallel) => {
    const { createProgress, progressEnabled } = await import('./progress.js');
    // Log lines go through the CLI's own stderr writer, which ends quietly on a closed pipe.
    const progress = createProgress(progressEnabled(o.json), { write: (line) => io.err(line.replace(/\n$/, '')) });
    const abort = new AbortController();
    // Ctrl-C and a polite kill (SIGTERM, as from a scheduler or CI) both cancel the run cleanly.
    const onSignal = () => abort.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      return await withProject(
        'write',
        (p) => {
          const work = () => fn(p, { signal: abort.signal, onPlan: (tasks) => progress.start(tasks), onEvent: (e) => progress.onEvent(e) });
          // A DAG's run on a shared ledger holds no file, so it has nothing to answer for (as a DAG's worker).
          if (p.config.orch_store === 'postgres' && dagOption() !== undefined) return work();
          return serving(p, 'run', (joined) => p.runForOther(joined, true), work);
        },
        { orch_max_parallel: maxParallel },
        { orch_max_parallel: '--max-parallel' },
        'migrate',
      );
    } finally {
      progress.stop();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  };

  return { io, program, output, config, dagOption, withProject, withProjectOrHolder, holderOf, serving, withRunProgress };
}

export const selectOptions = (cmd: Command) =>
  cmd
    .option('-s, --select <selector...>', 'tasks to include (dbt grammar: name, +name, name+, @name, tag:x, group:x, path:x)')
    .option('--exclude <selector...>', 'tasks to leave out (same grammar)');

export function selectionOf(opts: { select?: string[]; exclude?: string[] }): Selection {
  return { ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}) };
}

export function printWarnings(o: Output, warnings: readonly string[]): void {
  for (const w of warnings) o.err(`${pc.yellow('warning:')} ${w}`);
}

/**
 * The table of a run's jobs and its summary line (or the JSON document, with `extra` fields);
 * exits 1 unless it succeeded, 130 when cancelled.
 */
export function printRunResult(o: Output, { run, jobs, warnings }: RunResult, extra: Record<string, unknown> = {}): void {
  if (o.json) {
    printJson(o, { run: run && runJson(run), jobs: jobs.map(jobJson), warnings, ...extra });
  } else {
    printWarnings(o, warnings);
    if (!run) return;
    o.out(
      table(
        jobs.map((j) => [
          statusMark(j.state),
          jobLabel(j),
          colourStatus(j.state),
          formatMs(durationMs(j)),
          j.state === 'succeeded' ? `${outputOf(j)}${j.attempts > 1 ? `, ${j.attempts} attempts` : ''}` : pc.dim(j.error ?? ''),
        ]),
      ),
    );
    o.out(`\nRun ${run.id.slice(0, 8)} ${colourStatus(run.state)}: ${describeCounts(run.counts)} in ${formatMs(durationMs(run))}`);
  }
  if (run && run.state !== 'succeeded') throw new ExitCode(run.state === 'cancelled' ? 130 : 1);
}

/** What a succeeded job made: rows for SQL, the (abbreviated) JSON result of a TypeScript task. */
function outputOf(j: JobRecord): string {
  if (j.rows !== null || j.result === null) return plural(j.rows ?? 0, 'row');
  const text = JSON.stringify(j.result);
  return `result ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** `--since 24h` as seconds. */
export async function sinceSeconds(text: string): Promise<number> {
  const { parseDuration } = await import('../../model/duration.js');
  const seconds = parseDuration(text);
  if (seconds === undefined) throw new DuckorchError('USAGE', `--since must be a duration such as 24h or 7d, got \`${text}\``);
  return seconds;
}

/** `--since 24h` (a while back from now) or `--since 2026-12-01T08:00:00Z` (Orchex's ISO time). */
async function sinceFilter(text: string): Promise<{ withinSeconds: number } | { since: Date }> {
  const { parseDuration } = await import('../../model/duration.js');
  const seconds = parseDuration(text);
  if (seconds !== undefined) return { withinSeconds: seconds };
  const at = /^\d{4}-\d\d-\d\d/.test(text.trim()) ? new Date(text.trim()) : undefined;
  if (at && !Number.isNaN(at.getTime())) return { since: at };
  throw new DuckorchError('USAGE', `--since must be a duration or an ISO time, got \`${text}\``, {
    expected: 'e.g. 24h, 7d or 2026-12-01T08:00:00Z',
  });
}

export function wholeNumberOption(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min)
    throw new DuckorchError('USAGE', `${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, got \`${text}\``);
  return n;
}

/** The filters of Orchex's `retry-dead` / `retry-failed`, checked. */
export async function requeueFilter(opts: {
  task?: string;
  since?: string;
  minAttempts?: string;
  dryRun?: boolean;
}): Promise<RequeueFilter> {
  return {
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.task !== undefined ? { task: opts.task } : {}),
    ...(opts.since !== undefined ? await sinceFilter(opts.since) : {}),
    ...(opts.minAttempts !== undefined ? { minAttempts: wholeNumberOption('--min-attempts', opts.minAttempts, 1) } : {}),
  };
}

export function parseJsonOption(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new DuckorchError('USAGE', `${flag} must be JSON: ${err instanceof Error ? err.message : String(err)}`, {
      hint: `e.g. ${flag} '{"date": "2026-12-01"}'`,
    });
  }
}

/** `--limit` of the listings: a positive whole number. */
export function limitOption(text: string): number {
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1) throw new DuckorchError('USAGE', `--limit must be a positive whole number, got \`${text}\``);
  return limit;
}

/**
 * The `duck-orch` command line: parses flags, builds the config layer, calls the application
 * service, prints a human or `--json` rendering, and sets the exit code. No business logic.
 */
import { Command, CommanderError, Option } from 'commander';
import pc from 'picocolors';
// Only what parsing and `--help` need is imported up front: the application, config (zod,
// smol-toml) and DuckDB's native binding cost far more to load than `--help` takes to run,
// so each action imports its implementation when it runs. Type-only imports cost nothing.
import type { Project, RequeueFilter, RunResult, Selection, WorkOptions } from '../../app/project.js';
import type { HolderInfo, JoinOptions, ProjectApi } from '../../app/remote/socket.js';
import type { RunEvent } from '../../runtime/worker.js';
import type { JobRecord, JsonValue } from '../../store/ledger.js';
import type { Config, LoadConfigOptions } from '../../config/config.js';
import { DuckorchError } from '../../errors.js';
import { GRAPH_MODES, type GraphMode } from '../../model/graph/mermaid.js';
import { shortSnapshotId } from '../../model/jobs/short-snapshot-id.js';
import type { AccessMode } from '../../store/duckdb/database.js';
import {
  colourStatus,
  durationMs,
  errorsOf,
  formatMs,
  formatTime,
  runJson,
  describeCounts,
  printJson,
  renderError,
  renderWarning,
  statusMark,
  table,
  jobJson,
  type Output,
} from './render.js';
import { packageVersion } from './version.js';

/** What a command may ask either of an open project or of the process holding its database. */
type Watchable = Pick<ProjectApi, 'status' | 'list' | 'graph' | 'queueDepth' | 'failures' | 'enqueue' | 'cancel'>;

interface GlobalOptions {
  db?: string;
  store?: string;
  dag?: string;
  config?: string;
  json?: boolean;
}

/** Thrown to end a command with an exit code after its output was printed. */
class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** A command-line mistake commander found, with the command whose `--help` explains it. */
class UsageError extends Error {
  constructor(
    readonly error: CommanderError,
    readonly helpCommand: string,
  ) {
    super(error.message);
  }
}

type ConfigFlags = Partial<Record<keyof Config, unknown>>;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const selectOptions = (cmd: Command) =>
  cmd
    .option('-s, --select <selector...>', 'tasks to include (dbt grammar: name, +name, name+, @name, tag:x, group:x, path:x)')
    .option('--exclude <selector...>', 'tasks to leave out (same grammar)');

function selectionOf(opts: { select?: string[]; exclude?: string[] }): Selection {
  return { ...(opts.select ? { select: opts.select } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}) };
}

/** The table of a run's jobs and its summary line (or the JSON document); exits 1 unless it succeeded, 130 when cancelled. */
function printRunResult(o: Output, { run, jobs, warnings }: RunResult): void {
  if (o.json) {
    printJson(o, { run: run && runJson(run), jobs: jobs.map(jobJson), warnings });
  } else {
    printWarnings(o, warnings);
    if (!run) return;
    o.out(
      table(
        jobs.map((j) => [
          statusMark(j.state),
          j.task,
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
  if (j.rows !== null || j.result === null) return `${j.rows ?? 0} rows`;
  const text = JSON.stringify(j.result);
  return `result ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** `--since 24h` as seconds. */
async function sinceSeconds(text: string): Promise<number> {
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

function wholeNumberOption(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min)
    throw new DuckorchError('USAGE', `${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, got \`${text}\``);
  return n;
}

/** The filters of Orchex's `retry-dead` / `retry-failed`, checked. */
async function requeueFilter(opts: { task?: string; since?: string; minAttempts?: string }): Promise<RequeueFilter> {
  return {
    ...(opts.task !== undefined ? { task: opts.task } : {}),
    ...(opts.since !== undefined ? await sinceFilter(opts.since) : {}),
    ...(opts.minAttempts !== undefined ? { minAttempts: wholeNumberOption('--min-attempts', opts.minAttempts, 1) } : {}),
  };
}

function parseJsonOption(flag: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new DuckorchError('USAGE', `${flag} must be JSON: ${err instanceof Error ? err.message : String(err)}`, {
      hint: `e.g. ${flag} '{"date": "2026-12-01"}'`,
    });
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('duck-orch');
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
  const withProject = async <T>(
    access: AccessMode,
    fn: (p: Project) => Promise<T>,
    flags: ConfigFlags = {},
    flagNames: LoadConfigOptions['flagNames'] = {},
    // The laptop flow (register, run) creates the PostgreSQL ledger's tables itself; the rest need init-db.
    ledgerSchema: 'migrate' | 'require' = 'require',
  ): Promise<T> => {
    const { Project } = await import('../../app/project.js');
    const dag = dagOption();
    // With --dag nothing needs registering first, so a command that writes may create the database.
    const project = await Project.open({
      config: await config(flags, flagNames),
      access: dag && access === 'write' ? 'create' : access,
      ledgerSchema,
      ...(dag ? { dag } : {}),
    });
    try {
      return await fn(project);
    } finally {
      await project.close();
    }
  };

  /** Runs `fn` while answering other processes on the database's socket (`app/remote/socket.ts`). */
  const serving = async <T>(
    p: Project,
    command: HolderInfo['command'],
    join: (o: JoinOptions) => Promise<RunResult>,
    fn: () => Promise<T>,
  ): Promise<T> => {
    const { serveProject } = await import('../../app/remote/socket.js');
    const server = await serveProject(p, { command, pid: process.pid, db: p.dbFile }, join);
    try {
      return await fn();
    } finally {
      await server.close();
    }
  };

  /**
   * `worker` with the ledger in PostgreSQL: the database file is opened only while this worker
   * holds its lease (see `app/shared-worker.ts`). Returns false, doing nothing, when the ledger
   * is the embedded one.
   */
  const workOnSharedLedger = async (
    o: Output,
    opts: { concurrency?: string; once?: boolean },
    work: WorkOptions,
    pollSeconds: number | undefined,
  ): Promise<boolean> => {
    // A --dag worker runs TypeScript tasks, which need no shared database: it works as on one machine.
    if (dagOption()) return false;
    const cfg = await config({ orch_max_parallel: opts.concurrency }, { orch_max_parallel: '--concurrency' });
    if (cfg.orch_store !== 'postgres') return false;
    const [{ workShared }, { serveProject }] = await Promise.all([
      import('../../app/shared-worker.js'),
      import('../../app/remote/socket.js'),
    ]);
    await workShared({
      ...work,
      pollMs: Math.max(10, (pollSeconds ?? cfg.orch_poll_interval) * 1000),
      config: cfg,
      access: 'write',
      log: (line) => o.err(`worker ${process.pid} ${line}`),
      onStarted: (id) => o.err(`worker ${process.pid} started on ${cfg.db} as ${id}${opts.once ? ' (until idle)' : ''}`),
      // While it holds the file, other commands on this machine reach the project through it.
      onHold: async (p) => {
        const server = await serveProject(p, { command: 'worker', pid: process.pid, db: p.dbFile }, (joined) =>
          p.runForOther(joined, false),
        );
        // Not awaited: a run joined through the socket is followed in the ledger, not in the file.
        return async () => void server.close();
      },
    });
    o.err(`worker ${process.pid} stopped`);
    return true;
  };

  /**
   * `withProject`, except that while a `run` or `worker` holds the database the question goes
   * to that process over its socket (see `app/remote/socket.ts`) instead of failing.
   */
  const withProjectOrHolder = async <T>(access: AccessMode, fn: (p: Watchable) => Promise<T>): Promise<T> => {
    try {
      return await withProject(access, fn);
    } catch (err) {
      const holder = err instanceof DuckorchError && err.code === 'DB_LOCKED' ? await holderOf() : undefined;
      if (!holder) throw err;
      return fn(holder);
    }
  };
  const holderOf = async (): Promise<ProjectApi | undefined> => {
    const { connectToHolder } = await import('../../app/remote/socket.js');
    return connectToHolder((await config()).db);
  };

  /**
   * Runs `fn` with the run log (or progress bar) on stderr and Ctrl-C / SIGTERM cancelling the
   * run cleanly, the project opened for writing with `--max-parallel` applied.
   */
  const withRunProgress = async <T>(
    o: Output,
    fn: (
      p: Project,
      progress: { signal: AbortSignal; onPlan: (tasks: readonly string[]) => void; onEvent: (e: RunEvent) => void },
    ) => Promise<T>,
    maxParallel: string | undefined,
  ): Promise<T> => {
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
        (p) =>
          serving(
            p,
            'run',
            (joined) => p.runForOther(joined, true),
            () => fn(p, { signal: abort.signal, onPlan: (tasks) => progress.start(tasks), onEvent: (e) => progress.onEvent(e) }),
          ),
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

  program
    .description('Offline-first, DuckDB-native orchestrator: SQL task files → inferred DAG → runs on embedded DuckDB.')
    .addOption(new Option('--db <file>', 'project DuckDB database (default: $DUCKORCH_DB, duckorch.toml `db`, then ./mydata.duckdb)'))
    .addOption(
      new Option(
        '--store <store>',
        'where runs, jobs and history live (default: $DUCKORCH_STORE; postgres when $DATABASE_URL is set)',
      ).choices(['duckdb', 'postgres']),
    )
    .option(
      '--dag <module:export|name>',
      'take the tasks from this TypeScript Dag module instead of the registry, e.g. dags/etl.ts:etl, or from the active snapshot of the DAG of this name (default: $DUCKORCH_DAG, $ORCHEX_DAG)',
    )
    .option('--config <file>', 'config file (default: the nearest duckorch.toml in this folder or above)')
    .option('--json', 'print machine-readable JSON on stdout')
    .version(packageVersion(), '-V, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      // Under --json, stdout carries the one error document and stderr stays quiet.
      writeErr: (s) => {
        if (!program.opts<GlobalOptions>().json) io.err(s.trimEnd());
      },
      // runCli prints usage errors itself: one line in the chosen format, naming the right --help.
      outputError: () => {},
    });

  program
    .command('register')
    .description('parse and register every *.sql task file under a folder (all-or-nothing)')
    .argument('<dir>', 'folder of task files')
    .action(async (dir: string) => {
      const o = output();
      const result = await withProject('create', (p) => p.register(dir), {}, {}, 'migrate');
      if (o.json) {
        const { leftBehind, ...rest } = result;
        printJson(o, { ...rest, left_behind: leftBehind, warnings: result.warnings.map((w) => w.toJSON()) });
        return;
      }
      for (const w of result.warnings) o.err(renderWarning(w));
      const counts = (c: string) => result.tasks.filter((t) => t.change === c).length;
      o.out(
        `Registered ${result.tasks.length} task${result.tasks.length === 1 ? '' : 's'} from ${result.root} ` +
          `(${counts('added')} added, ${counts('changed')} changed, ${counts('unchanged')} unchanged, ${result.removed.length} removed)`,
      );
      for (const t of result.tasks)
        if (t.change !== 'unchanged') o.out(`  ${t.change === 'added' ? pc.green('+') : pc.yellow('~')} ${t.name}  ${pc.dim(t.file)}`);
      for (const n of result.removed) {
        const tables = result.leftBehind.filter((l) => l.task === n).map((l) => l.table);
        o.out(`  ${pc.red('-')} ${n}${tables.length ? pc.dim(`  (left behind in the database: ${tables.join(', ')})`) : ''}`);
      }
    });

  selectOptions(
    program
      .command('run')
      .description('run the registered tasks (or a selection) in dependency order')
      .option('-p, --max-parallel <n>', 'tasks to run at once (default: orch_max_parallel, 4)')
      .option('--full-refresh', 'ignore recorded @incremental_by watermarks: incremental tasks load from the beginning')
      .option('--wait', 'when another run or worker holds the database, wait for it to finish instead of handing this run to it'),
  ).action(async (opts: { select?: string[]; exclude?: string[]; maxParallel?: string; fullRefresh?: boolean; wait?: boolean }) => {
    const o = output();
    const runHere = () =>
      withRunProgress(
        o,
        (p, progress) => p.run({ ...selectionOf(opts), ...progress, ...(opts.fullRefresh ? { fullRefresh: true } : {}) }),
        opts.maxParallel,
      );
    for (let waited = 0; ; waited++) {
      try {
        return printRunResult(o, await runHere());
      } catch (err) {
        if (!(err instanceof DuckorchError && err.code === 'DB_LOCKED')) throw err;
        if (opts.wait) {
          // The holder's socket could say when it ends, but it may be a short command with none: look again shortly.
          if (waited === 0) o.err(`${err.message}; waiting for it to finish (--wait)`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** Math.min(waited, 4))));
          continue;
        }
        const holder = await holderOf();
        if (!holder)
          throw new DuckorchError('DB_LOCKED', err.message, {
            hint: 'wait for it to finish (`run --wait` does that), or stop it; a `duck-orch run` or `worker` holding it would have taken this run over',
          });
        const info = await holder.holder();
        if (!o.json) o.err(`${info.db} is held by duck-orch ${info.command} (pid ${info.pid}): it works this run; following it`);
        const parallel = opts.maxParallel === undefined ? undefined : Number(opts.maxParallel);
        return printRunResult(
          o,
          await holder.join({
            ...selectionOf(opts),
            ...(parallel !== undefined && Number.isInteger(parallel) && parallel > 0 ? { maxParallel: parallel } : {}),
            ...(opts.fullRefresh ? { fullRefresh: true } : {}),
          }),
        );
      }
    }
  });

  program
    .command('retry-failed')
    .description(
      'run again what a run (by default the latest) did not finish: dead, blocked, skipped and cancelled jobs, not what succeeded; ' +
        'with --task, --since, --min-attempts or --all-runs, put failed jobs (waiting for a retry) of every run back in the queue at once, as Orchex does',
    )
    .option('--run <id>', 'the run to retry (its id or the first characters of it)')
    .option('-p, --max-parallel <n>', 'tasks to run at once (default: orch_max_parallel, 4)')
    .option('-t, --task <name>', 'across runs: only failed jobs of this task')
    .option('--since <duration|time>', 'across runs: only jobs that failed in this last while (24h) or since this ISO time')
    .option('--min-attempts <n>', 'across runs: only jobs that have had at least this many attempts')
    .option('--all-runs', 'across runs, with no filter: every failed job')
    .action(
      async (opts: { run?: string; maxParallel?: string; task?: string; since?: string; minAttempts?: string; allRuns?: boolean }) => {
        const o = output();
        if (opts.task !== undefined || opts.since !== undefined || opts.minAttempts !== undefined || opts.allRuns) {
          if (opts.run !== undefined)
            throw new DuckorchError('USAGE', '--run retries one run; --task, --since, --min-attempts and --all-runs requeue across runs', {
              hint: 'give one or the other',
            });
          const filter = await requeueFilter(opts);
          const n = await withProject('write', (p) => p.retryFailedJobs(filter));
          if (o.json) return printJson(o, { requeued: n });
          o.out(`Requeued ${n} failed job${n === 1 ? '' : 's'}.${n > 0 ? ' Work them with: duck-orch worker' : ''}`);
          return;
        }
        const result = await withRunProgress(
          o,
          (p, progress) => p.retryFailed({ ...progress, ...(opts.run ? { runId: opts.run } : {}) }),
          opts.maxParallel,
        );
        if (!o.json && result.retried === 0) o.err(`nothing to retry in run ${result.run?.id.slice(0, 8)}: every job succeeded`);
        printRunResult(o, result);
      },
    );

  program
    .command('retry-dead')
    .description('put dead jobs back in the queue, across runs (what they blocked follows as they succeed); a worker works them')
    .option('-t, --task <name>', 'only jobs of this task')
    .option('--since <duration|time>', 'only jobs that died in this last while (e.g. 24h) or since this ISO time')
    .option('--min-attempts <n>', 'only jobs that have had at least this many attempts')
    .action(async (opts: { task?: string; since?: string; minAttempts?: string }) => {
      const o = output();
      const filter = await requeueFilter(opts);
      const n = await withProject('write', (p) => p.retryDead(filter));
      if (o.json) return printJson(o, { requeued: n });
      o.out(`Requeued ${n} dead job${n === 1 ? '' : 's'}.${n > 0 ? ' Work them with: duck-orch worker' : ''}`);
    });

  selectOptions(
    program
      .command('enqueue')
      .description('create a run of the registered tasks (or a selection) without working it; `duck-orch worker` works it')
      .option('--inputs <json>', 'JSON payload the run’s root TypeScript tasks receive')
      .option('--metadata <json>', 'a JSON object kept with the run (shown by status --json)')
      .option('--run-id <uuid>', 'the run’s id (default: a new UUID); an id that exists is refused'),
  ).action(async (opts: { select?: string[]; exclude?: string[]; inputs?: string; metadata?: string; runId?: string }) => {
    const o = output();
    const inputs = opts.inputs === undefined ? null : parseJsonOption('--inputs', opts.inputs);
    const metadata = opts.metadata === undefined ? undefined : parseJsonOption('--metadata', opts.metadata);
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)))
      throw new DuckorchError('USAGE', `--metadata must be a JSON object, got \`${opts.metadata}\``, {
        hint: `e.g. --metadata '{"source": "nightly"}'`,
      });
    const { run, warnings } = await withProjectOrHolder('write', (p) =>
      p.enqueue({
        ...selectionOf(opts),
        inputs,
        ...(metadata !== undefined ? { metadata } : {}),
        ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
      }),
    );
    if (o.json) return printJson(o, { run: run && runJson(run), warnings });
    printWarnings(o, warnings);
    if (run) o.out(`Enqueued run ${run.id} (${run.tasks.length} task${run.tasks.length === 1 ? '' : 's'}); work it with: duck-orch worker`);
  });

  program
    .command('worker')
    .description('work queued runs until stopped (Ctrl-C or SIGTERM: in-flight jobs finish or go back to the queue)')
    .option('-c, --concurrency <n>', 'jobs to work at once (default: orch_max_parallel, 4)')
    .option('--once', 'exit when no job is left to work')
    .option('--grace <seconds>', 'on shutdown, how long in-flight jobs may take to finish before they are handed back', '30')
    .option(
      '--poll-interval <seconds>',
      'how often an idle worker looks for work when no notification wakes it (default: orch_poll_interval, 0.2)',
    )
    .option('--worker-id <id>', 'the name this worker claims jobs under (default: worker-<pid>-<random>)')
    .action(async (opts: { concurrency?: string; once?: boolean; grace: string; pollInterval?: string; workerId?: string }) => {
      const o = output();
      const seconds = (flag: string, text: string) => {
        const n = Number(text);
        if (text.trim() === '' || !Number.isFinite(n) || n < 0)
          throw new DuckorchError('USAGE', `${flag} must be a number of seconds, got \`${text}\``);
        return n;
      };
      const grace = seconds('--grace', opts.grace);
      const poll = opts.pollInterval === undefined ? undefined : seconds('--poll-interval', opts.pollInterval);
      const { createProgress } = await import('./progress.js');
      const progress = createProgress(false, { write: (line) => io.err(line.replace(/\n$/, '')) });
      const shutdown = new AbortController();
      // A shutdown is not a verdict: stop claiming, let in-flight jobs finish, hand back the rest.
      const onSignal = () => shutdown.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const common = {
          shutdown: shutdown.signal,
          graceMs: grace * 1000,
          onEvent: (e: RunEvent) => progress.onEvent(e),
          onNotice: (message: string) => o.err(`${new Date().toISOString()} ${message}`),
          ...(opts.once ? { untilIdle: true } : {}),
          ...(opts.workerId ? { workerId: opts.workerId } : {}),
        };
        if (await workOnSharedLedger(o, opts, common, poll)) return;
        await withProject(
          'write',
          (p) =>
            serving(
              p,
              'worker',
              (joined) => p.runForOther(joined, false),
              async () => {
                o.err(`worker ${process.pid} started on ${p.dbFile}${opts.once ? ' (until idle)' : ''}`);
                const { startMetrics } = await import('./metrics.js');
                const metrics = startMetrics(p, (line) => o.err(line));
                try {
                  await p.work({
                    shutdown: shutdown.signal,
                    graceMs: grace * 1000,
                    pollMs: Math.max(10, (poll ?? p.config.orch_poll_interval) * 1000),
                    onEvent: (e) => {
                      metrics.onEvent(e);
                      progress.onEvent(e);
                    },
                    // Timestamped like the job lines around them.
                    onNotice: (message) => o.err(`${new Date().toISOString()} ${message}`),
                    ...(opts.once ? { untilIdle: true } : {}),
                    ...(opts.workerId ? { workerId: opts.workerId } : {}),
                  });
                } finally {
                  metrics.stop();
                }
              },
            ),
          { orch_max_parallel: opts.concurrency },
          { orch_max_parallel: '--concurrency' },
        );
      } finally {
        process.removeListener('SIGINT', onSignal);
        process.removeListener('SIGTERM', onSignal);
      }
      o.err(`worker ${process.pid} stopped`);
    });

  program
    .command('init-db')
    .description('create or migrate the ledger’s tables in PostgreSQL (DATABASE_URL, schema orch_pg_schema); workers need it done once')
    .action(async () => {
      const o = output();
      const cfg = await config();
      const { initSharedLedger, Project } = await import('../../app/project.js');
      if (cfg.orch_store !== 'postgres') {
        // The embedded ledger lives in the project database and is migrated whenever it is opened to write.
        const p = await Project.open({ config: cfg, access: 'create' });
        await p.close();
        if (o.json) return printJson(o, { store: 'duckdb', db: p.dbFile });
        return o.out(`The ledger is in ${p.dbFile} (no DATABASE_URL): created and up to date.`);
      }
      const r = await initSharedLedger(cfg);
      // As Orchex's init-db: with --dag, the DAG gets an active snapshot when it has none yet.
      const snap = dagOption()
        ? await withProject('create', async (p) =>
            (await p.dagSnapshots()).some((d) => d.active) ? undefined : p.snapshot({ activate: true }),
          )
        : undefined;
      if (o.json)
        return printJson(o, {
          store: r.store,
          where: r.where,
          schema: r.schema,
          version: r.version,
          applied: r.applied,
          ...(snap ? { activated: { dag: snap.dag, snapshot_id: snap.snapshotId } } : {}),
        });
      if (r.applied.length === 0) o.out(`Schema ${r.schema} on ${r.where} is already up to date (version ${r.version}).`);
      else
        o.out(
          `Initialised schema ${r.schema} on ${r.where}: version ${r.version}, applied ${r.applied.map((m) => `${m.id} ${m.name}`).join(', ')}.`,
        );
      if (snap) o.out(`Activated snapshot ${shortSnapshotId(snap.snapshotId)} of DAG ${snap.dag} (it had none).`);
    });

  program
    .command('snapshot')
    .description('take a snapshot of --dag’s code for its DAG name; --activate makes it what `--dag <name>` means; --list lists them')
    .option('--activate', 'make the snapshot the DAG’s active one (enqueue and worker with --dag <name> use it)')
    .option('--list', 'list the snapshots taken (of --dag’s DAG, or of every DAG), newest first; * marks the active ones')
    .action(async (opts: { activate?: boolean; list?: boolean }) => {
      const o = output();
      if (opts.list) {
        const rows = await withProject('create', (p) => p.dagSnapshots());
        if (o.json)
          return printJson(
            o,
            rows.map((r) => ({
              dag: r.dag,
              snapshot_id: r.snapshotId,
              active: r.active,
              tasks: r.taskCount,
              module: r.module,
              export: r.exportName,
              created_at: r.createdAt,
            })),
          );
        if (rows.length === 0) return o.out('No snapshots yet. Take one with: duck-orch snapshot --activate --dag path/module.ts:export');
        return o.out(
          table([
            ['', 'SNAPSHOT', 'DAG', 'TASKS', 'CREATED', 'MODULE'].map((h) => pc.dim(h)),
            ...rows.map((r) => [
              r.active ? pc.green('*') : ' ',
              shortSnapshotId(r.snapshotId),
              r.dag,
              String(r.taskCount),
              formatTime(r.createdAt),
              `${r.module}:${r.exportName}`,
            ]),
          ]),
        );
      }
      const r = await withProject('create', (p) => p.snapshot({ activate: opts.activate === true }));
      if (o.json)
        return printJson(o, {
          dag: r.dag,
          snapshot_id: r.snapshotId,
          tasks: r.taskCount,
          created: r.recorded,
          active: r.active,
          activated: r.activated,
        });
      const id = shortSnapshotId(r.snapshotId);
      const what = `snapshot ${id} of DAG ${r.dag} (${r.taskCount} task${r.taskCount === 1 ? '' : 's'})`;
      if (opts.activate && !r.activated) o.out(`Unchanged, already active: ${what}.`);
      else if (opts.activate) o.out(`${r.recorded ? 'Created and activated' : 'Activated'} ${what}.`);
      else o.out(`${r.recorded ? 'Created' : 'Unchanged:'} ${what}${r.active ? ', active' : '; activate it with --activate'}.`);
    });

  program
    .command('demo')
    .description('seed a demo DAG, activate its snapshot, enqueue a few runs and work them with a worker, then print a summary')
    .option('--postgres', 'put the ledger in PostgreSQL (DATABASE_URL must be set), as on many machines')
    .option('--runs <n>', 'how many runs to enqueue', '3')
    .action(async (opts: { postgres?: boolean; runs: string }) => {
      const o = output();
      const runs = wholeNumberOption('--runs', opts.runs, 1);
      const { runDemo } = await import('./demo.js');
      const g = program.opts<GlobalOptions>();
      const cfg = await config(opts.postgres ? { orch_store: 'postgres' } : {}, opts.postgres ? { orch_store: '--postgres' } : {});
      const summary = await runDemo(cfg, { runs, db: g.db, log: (line) => (o.json ? undefined : o.err(line)) });
      if (o.json) return printJson(o, summary);
      o.out(
        table([
          ['RUN', 'STATE', 'JOBS', 'METADATA'].map((h) => pc.dim(h)),
          ...summary.runs.map((r) => [r.run_id.slice(0, 8), colourStatus(r.state), r.jobs, JSON.stringify(r.metadata)]),
        ]),
      );
      o.out(
        `\nDemo DAG ${summary.dag} (snapshot ${shortSnapshotId(summary.snapshot_id)}) on ${summary.where}: ${summary.succeeded}/${summary.runs.length} runs succeeded`,
      );
      if (summary.succeeded !== summary.runs.length) throw new ExitCode(1);
    });

  program
    .command('cancel')
    .description('cancel a run: its unfinished jobs end cancelled')
    .argument('<run>', 'the run id, or the first characters of it')
    .action(async (id: string) => {
      const o = output();
      const { run, cancelled, stopping } = await withProjectOrHolder('write', (p) => p.cancel(id));
      if (o.json) return printJson(o, { run: runJson(run), cancelled, stopping });
      o.out(
        `Cancelled ${cancelled} job${cancelled === 1 ? '' : 's'} of run ${run.id.slice(0, 8)} (${colourStatus(run.state)})` +
          (stopping > 0
            ? `; ${stopping} in flight stop${stopping === 1 ? 's' : ''} at ${stopping === 1 ? 'its' : 'their'} worker's next heartbeat`
            : ''),
      );
    });

  program
    .command('stale-locks')
    .description('jobs whose worker stopped renewing its lease (any live worker takes them back)')
    .action(async () => {
      const o = output();
      const jobs = await withProject('write', (p) => p.staleLeases());
      if (o.json)
        return printJson(
          o,
          jobs.map((j) => ({ ...jobJson(j), lease_owner: j.leaseOwner, lease_expires_at: j.leaseExpiresAt })),
        );
      if (jobs.length === 0) return o.out('No stale leases.');
      o.out(
        table([
          ['TASK', 'RUN', 'WORKER', 'STARTED', 'LEASE EXPIRED'].map((h) => pc.dim(h)),
          ...jobs.map((j) => [j.task, j.runId.slice(0, 8), j.leaseOwner ?? '', formatTime(j.startedAt), formatTime(j.leaseExpiresAt)]),
        ]),
      );
    });

  program
    .command('queue-depth')
    .description('jobs per state, over all runs or one')
    .option('--run <id>', 'only this run')
    .action(async (opts: { run?: string }) => {
      const o = output();
      const depth = await withProjectOrHolder('write', (p) => p.queueDepth(opts.run));
      const { JOB_STATES } = await import('../../model/jobs/job-state.js');
      const counts = Object.fromEntries(JOB_STATES.map((s) => [s, depth[s] ?? 0]));
      if (o.json) return printJson(o, counts);
      o.out(table(JOB_STATES.map((s) => [colourStatus(s), String(counts[s])])));
    });

  program
    .command('failures')
    .description('tasks whose attempts failed recently, most failures first')
    .option('--since <duration>', 'how far back to look (e.g. 24h, 7d)', '24h')
    .option('-n, --limit <n>', 'how many tasks to show', '20')
    .action(async (opts: { since: string; limit: string }) => {
      const o = output();
      const seconds = await sinceSeconds(opts.since);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new DuckorchError('USAGE', `--limit must be a positive whole number, got \`${opts.limit}\``);
      const rows = await withProjectOrHolder('write', (p) => p.failures(seconds, limit));
      if (o.json)
        return printJson(
          o,
          rows.map((r) => ({ task: r.task, failures: r.failures, last_error: r.lastError, last_failed_at: r.lastFailedAt })),
        );
      if (rows.length === 0) return o.out(`No failed attempts in the last ${opts.since}.`);
      o.out(
        table([
          ['TASK', 'FAILURES', 'LAST FAILED', 'LAST ERROR'].map((h) => pc.dim(h)),
          ...rows.map((r) => [r.task, String(r.failures), formatTime(r.lastFailedAt), (r.lastError ?? '').split('\n')[0]!]),
        ]),
      );
    });

  program
    .command('status')
    .description('recent task runs, newest first')
    .option('-n, --limit <n>', 'how many task runs to show', '50')
    .option('-t, --task <name>', 'only runs of this task')
    .action(async (opts: { limit: string; task?: string }) => {
      const o = output();
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new DuckorchError('USAGE', `--limit must be a positive whole number, got \`${opts.limit}\``);
      const { jobs, failedAttempts, runs, removedTasks } = await withProjectOrHolder('write', (p) =>
        p.status({ limit, ...(opts.task ? { task: opts.task } : {}) }),
      );
      const removed = new Set(removedTasks);
      const earlier = (id: string) =>
        (failedAttempts.get(id) ?? []).map((a) => ({ attempt: a.attempt, outcome: a.outcome, error: a.error, started_at: a.startedAt }));
      if (o.json) {
        printJson(o, {
          jobs: jobs.map((j) => ({ ...jobJson(j), failed_attempts: earlier(j.id), task_removed: removed.has(j.task) })),
          runs: runs.map(runJson),
        });
        return;
      }
      if (jobs.length === 0) {
        o.out('No runs yet. Start one with: duck-orch run');
        return;
      }
      const errorOf = (j: (typeof jobs)[number]) => {
        const attempts = failedAttempts.get(j.id) ?? [];
        if (j.state !== 'succeeded' || attempts.length === 0) return j.error ?? '';
        return pc.dim(`earlier: ${attempts.map((a) => `#${a.attempt} ${(a.error ?? a.outcome).split('\n')[0]}`).join('; ')}`);
      };
      o.out(
        table([
          ['STARTED', 'TASK', 'STATE', 'DURATION', 'ATTEMPTS', 'ROWS', 'ERROR'].map((h) => pc.dim(h)),
          ...jobs.map((j) => [
            formatTime(j.startedAt ?? j.finishedAt),
            removed.has(j.task) ? `${j.task} ${pc.dim('(removed)')}` : j.task,
            colourStatus(j.state),
            formatMs(durationMs(j)),
            String(j.attempts),
            j.rows === null ? '' : String(j.rows),
            errorOf(j),
          ]),
        ]),
      );
    });

  selectOptions(
    program
      .command('graph')
      .description('Mermaid flowchart of the project, styled by each task’s latest run')
      .addArgument(
        new Command()
          .createArgument('[mode]', 'lineage (datasets), dag (tasks) or combined')
          .choices([...GRAPH_MODES])
          .default('lineage'),
      )
      .option('--no-status', 'leave out run-status styling'),
  ).action(async (mode: GraphMode, opts: { select?: string[]; exclude?: string[]; status: boolean }) => {
    const o = output();
    const { mermaid, warnings } = await withProjectOrHolder('read', (p) => p.graph(mode, { ...selectionOf(opts), statuses: opts.status }));
    if (o.json) printJson(o, { mode, mermaid, warnings });
    else {
      printWarnings(o, warnings);
      o.out(mermaid.trimEnd());
    }
  });

  selectOptions(program.command('test').description('run the @test assertions of the registered tasks against the current data')).action(
    async (opts: { select?: string[]; exclude?: string[] }) => {
      const o = output();
      const { outcomes, warnings } = await withProject('write', (p) => p.test(selectionOf(opts)));
      const passed = outcomes.filter((x) => x.status === 'pass').length;
      const failed = outcomes.length - passed;
      if (o.json) printJson(o, { passed, failed, results: outcomes, warnings });
      else {
        printWarnings(o, warnings);
        for (const t of outcomes) {
          if (t.status === 'pass') o.out(`${pc.green('PASS')} ${t.task} @test ${t.index}: ${t.assertion}`);
          else
            o.out(
              `${pc.red(t.status === 'fail' ? 'FAIL' : 'ERROR')} ${t.task} @test ${t.index} (${t.file}:${t.line}): ${t.assertion} — ${t.message}`,
            );
        }
        o.out(`Tests: ${passed} passed, ${failed} failed`);
      }
      if (failed > 0) throw new ExitCode(1);
    },
  );

  program
    .command('validate')
    .description('check task files, or a whole project folder, without a database; reports every error')
    .argument('<paths...>', 'task files (.sql) or folders (a folder is checked as a project: cycles, two writers, unknown dependencies)')
    .option('--strict', 'treat warnings (unknown header keys, untracked statements, …) as errors, e.g. in CI')
    .action(async (paths: string[], opts: { strict?: boolean }) => {
      const o = output();
      const [{ validatePaths }, { taskToJson }] = await Promise.all([
        import('../../app/project.js'),
        import('../../model/taskfile/task-json.js'),
      ]);
      const v = await validatePaths(paths);
      const failing = (errors: readonly unknown[], warnings: readonly unknown[]) =>
        errors.length > 0 || (opts.strict === true && warnings.length > 0);
      const valid = !failing(v.errors, v.warnings) && v.files.every((f) => !failing(f.errors, f.warnings));
      if (o.json) {
        const items = v.files.map((f) => ({
          file: f.file,
          valid: !failing(f.errors, f.warnings),
          task: f.task && f.errors.length === 0 ? taskToJson(f.task) : null,
          errors: f.errors.map((e) => e.toJSON()),
          warnings: f.warnings.map((w) => w.toJSON()),
        }));
        if (items.length === 1 && !v.project) printJson(o, items[0]);
        else printJson(o, { valid, files: items, errors: v.errors.map((e) => e.toJSON()), warnings: v.warnings.map((w) => w.toJSON()) });
      } else {
        for (const w of v.warnings) o.err(renderWarning(w));
        for (const f of v.files) {
          for (const e of f.errors) o.err(renderError(e));
          for (const w of f.warnings) o.err(renderWarning(w));
          const t = f.task;
          if (f.errors.length > 0) o.out(`${pc.red('invalid')} ${f.file}: ${f.errors.length} error${f.errors.length === 1 ? '' : 's'}`);
          else if (t)
            o.out(
              `${pc.green('ok')} ${f.file}: task ${t.name} reads ${t.inputs.join(', ') || 'nothing'}; writes ${t.outputs.join(', ') || 'nothing'}`,
            );
          else o.out(`${pc.dim('skipped')} ${f.file}: not a task`);
        }
        for (const e of v.errors) o.err(renderError(e));
        if (v.project) {
          const errors = v.errors.length + v.files.reduce((n, f) => n + f.errors.length, 0);
          const warnings = v.warnings.length + v.files.reduce((n, f) => n + f.warnings.length, 0);
          const counts = `${v.files.length} files, ${errors} errors, ${warnings} warnings${opts.strict ? ' (--strict)' : ''}`;
          o.out(valid ? `${pc.green('valid')}: ${counts}` : `${pc.red('invalid')}: ${counts}`);
        }
      }
      if (!valid) throw new ExitCode(1);
    });

  for (const [name, direction, description] of [
    ['impact', 'down', 'what is built from a table, downstream (what breaks if it changes)'],
    ['lineage', 'up', 'what a table is built from, upstream'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<table>', 'table (schema.name) or file:path')
      .action(async (tableName: string) => {
        const o = output();
        const { table: canonical, hops } = await withProject('read', (p) => p.walk(tableName, direction));
        if (o.json) {
          printJson(o, { table: canonical, direction: direction === 'down' ? 'downstream' : 'upstream', rows: hops });
          return;
        }
        if (hops.length === 0) {
          o.out(`${canonical} has no ${direction === 'down' ? 'downstream' : 'upstream'} tables.`);
          return;
        }
        o.out(
          table([['DEPTH', 'TABLE', 'VIA TASK'].map((h) => pc.dim(h)), ...hops.map((h) => [String(h.depth), h.table_name, h.via_task])]),
        );
      });
  }

  selectOptions(program.command('list').alias('ls').description('list registered tasks (after --select/--exclude) in run order')).action(
    async (opts: { select?: string[]; exclude?: string[] }) => {
      const o = output();
      const { tasks: rows, warnings } = await withProjectOrHolder('read', (p) => p.list(selectionOf(opts)));
      if (o.json) printJson(o, { tasks: rows, warnings });
      else if (rows.length > 0 || warnings.length === 0)
        o.out(
          table([
            ['TASK', 'FILE', 'UPSTREAM', 'OUTPUTS'].map((h) => pc.dim(h)),
            ...rows.map((r) => [r.name, r.file, r.upstream.join(', '), r.outputs.join(', ')]),
          ]),
        );
      if (!o.json) printWarnings(o, warnings);
    },
  );

  program
    .command('sql')
    .description('run SQL against the project database, opened read-only, and print the last statement’s result')
    .argument('<query>', 'one or more SQL statements separated by `;` (quote them for the shell)')
    .option('--csv', 'print CSV (RFC 4180) instead of a table')
    .action(async (query: string, opts: { csv?: boolean }) => {
      const o = output();
      if (o.json && opts.csv) throw new DuckorchError('USAGE', '--csv and --json cannot be combined', { hint: 'choose one output format' });
      const [{ db }, q, r] = await Promise.all([config(), import('../../app/sql-query.js'), import('./sql-render.js')]);
      const result = await q.runQuery(db, query);
      if (o.json) printJson(o, q.resultJson(result));
      else if (opts.csv) o.out(r.resultCsv(result));
      else o.out(table([result.headers.map((h) => pc.dim(h)), ...r.resultCells(result, pc.dim('NULL'))]));
    });

  // Per command, so that a usage error can name the --help that explains it.
  for (const cmd of [program, ...program.commands]) {
    const help = cmd === program ? 'duck-orch --help' : `duck-orch ${cmd.name()} --help`;
    cmd.exitOverride((err) => {
      throw err.exitCode === 0 ? err : new UsageError(err, help);
    });
  }

  return program;
}

function printWarnings(o: Output, warnings: readonly string[]): void {
  for (const w of warnings) o.err(`${pc.yellow('warning:')} ${w}`);
}

/** Whether `--json` was given anywhere before a `--` (also where commander stopped parsing at an earlier mistake). */
function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function printErrors(io: CliIo, json: boolean, errors: DuckorchError[]): void {
  if (json) printJson({ json, out: io.out, err: io.err }, { errors: errors.map((e) => e.toJSON()) });
  else for (const e of errors) io.err(renderError(e));
}

/** Runs the CLI and returns its exit code: 0 ok, 1 failure, 2 usage error, 130 interrupted. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    const json = Boolean(program.opts<GlobalOptions>().json) || jsonRequested(argv);
    if (err instanceof ExitCode) return err.code;
    if (err instanceof UsageError) {
      const see = `see \`${err.helpCommand}\``;
      if (err.error.code === 'commander.help') {
        // A bare `duck-orch`: commander already printed the help (to stderr, or not at all under --json).
        if (json) printErrors(io, true, [new DuckorchError('USAGE', 'missing command', { hint: see })]);
        return 2;
      }
      // Commander's text is `error: <what>` and, when it has one, a `(Did you mean …?)` line.
      const [first = '', ...rest] = err.message.split('\n');
      const message = first.replace(/^error: /, '');
      const suggestion = rest
        .join(' ')
        .trim()
        .replace(/^\((.*)\)$/, '$1');
      if (json) {
        printErrors(io, true, [new DuckorchError('USAGE', message, { hint: suggestion ? `${suggestion} ${see}` : see })]);
      } else {
        io.err(`${pc.red('error:')} ${message}${suggestion ? ` ${pc.dim(`(${suggestion})`)}` : ''}`);
        io.err(pc.dim(`(${see})`));
      }
      return 2;
    }
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const errors = errorsOf(err);
    if (errors.length === 0) {
      if (json) printErrors(io, true, [new DuckorchError('INTERNAL', err instanceof Error ? err.message : String(err))]);
      else io.err(`${pc.red('internal error:')} ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return 1;
    }
    printErrors(io, json, errors);
    return errors.some((e) => e.code === 'USAGE' || e.code === 'SELECTOR') ? 2 : 1;
  }
}

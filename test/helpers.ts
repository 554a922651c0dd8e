import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, onTestFinished } from 'vitest';
import { loadConfig } from '../src/config/config.js';
import { Project, type RunResult } from '../src/app/project.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI = path.join(ROOT, 'dist/interfaces/cli/main.js');

/**
 * Time per test, for a loaded two-core machine (`vitest.config.ts` keeps a tight default for the
 * pure unit tests). Tests that spawn the built CLI pay a Node start-up and a DuckDB open per
 * process; tests that run real DuckDB in-process pay for the queries.
 */
export const SUBPROCESS_TEST_TIMEOUT = 180_000;
export const DUCKDB_TEST_TIMEOUT = 120_000;
/** How long a test waits for a readiness signal (a log line, a file) before it fails. */
export const READY_TIMEOUT = 90_000;

/** Registers `fn` to run when the current test finishes (passed, failed or timed out). */
function whenTestFinishes(what: string, fn: () => unknown): void {
  try {
    onTestFinished(async () => {
      await fn();
    });
  } catch (err) {
    throw new Error(`${what} must be called inside a test, so that it can clean up when the test finishes`, { cause: err });
  }
}

function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
}

/**
 * A fresh temporary folder, removed when the current test finishes, whatever its outcome.
 * It lives in `os.tmpdir()`, which the global setup points at a folder of its own for the run
 * and checks is empty at the end (see `test/global-setup.ts`).
 */
export function tempDir(prefix = 'duckorch-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  whenTestFinishes('tempDir()', () => removeDir(dir));
  return dir;
}

export interface TempProject {
  dir: string;
  db: string;
  tasks: string;
  write(relative: string, content: string): string;
  remove(relative: string): void;
}

/**
 * A fresh folder with a `tasks/` subfolder and a database path, removed when the test finishes;
 * or, with `suite` (called at the top level of a test file, for a fixture its tests share),
 * when the test file finishes.
 */
export function tempProject(options: { suite?: boolean } = {}): TempProject {
  let dir: string;
  if (options.suite) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duckorch-test-'));
    afterAll(() => removeDir(dir));
  } else dir = tempDir();
  const tasks = path.join(dir, 'tasks');
  fs.mkdirSync(tasks);
  return {
    dir,
    db: path.join(dir, 'warehouse.duckdb'),
    tasks,
    write(relative, content) {
      const p = path.join(dir, relative);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      fs.writeFileSync(p, content);
      return p;
    },
    remove(relative) {
      fs.rmSync(path.join(dir, relative), { force: true });
    },
  };
}

export async function openProject(
  db: string,
  access: 'read' | 'write' | 'create' = 'create',
  env: Record<string, string> = {},
): Promise<Project> {
  return Project.open({
    config: loadConfig({ env: { DUCKORCH_RETRY_BASE: '0.01', DUCKORCH_RETRY_MAX: '0.05', ...env }, flags: { db }, cwd: os.tmpdir() }),
    access,
    // The laptop flow: with DATABASE_URL in `env`, the ledger's tables are created as `run` creates them.
    ledgerSchema: 'migrate',
  });
}

/** Runs a function with the open project, and closes it. */
export async function withProject<T>(p: TempProject, fn: (project: Project) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const project = await openProject(p.db, 'create', env);
  try {
    return await fn(project);
  } finally {
    await project.close();
  }
}

/** Registers the project's `tasks/` in-process: the set-up of CLI tests that are about something else. */
export async function register(p: TempProject): Promise<void> {
  await withProject(p, async (project) => {
    await project.register(p.tasks);
  });
}

/** Registers the project's `tasks/` and runs every task, in-process; returns the run's result. */
export async function registerAndRun(p: TempProject): Promise<RunResult> {
  return withProject(p, async (project) => {
    await project.register(p.tasks);
    return project.run();
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /**
   * Run without the capabilities that let root ignore file permissions (via util-linux's
   * `setpriv`), so that a permission error can be tested as root. Unlike running as another
   * user, the process still reads a checkout that only root may enter.
   */
  withoutRootOverride?: boolean;
}

/** A running CLI process whose output is collected as it comes. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  readonly stdout: string;
  readonly stderr: string;
  /** Settles when the process has exited. */
  exited: Promise<CliResult>;
  /**
   * Resolves with the first stderr line that matches `pattern`. Rejects, saying what was seen,
   * when the process exits without printing it or after `timeoutMs`.
   */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function withoutKey(env: NodeJS.ProcessEnv, key: string): NodeJS.ProcessEnv {
  const rest = { ...env };
  delete rest[key];
  return rest;
}

/**
 * Spawns the built CLI. It is killed when the test finishes if it is still running, so that a
 * failed or timed-out test never leaves a process behind holding a database.
 */
export function startCli(args: string[], options: CliOptions = {}): CliProcess {
  const [command, argv] = options.withoutRootOverride
    ? ['setpriv', ['--bounding-set=-dac_override,-dac_read_search', process.execPath, CLI, ...args]]
    : [process.execPath, [CLI, ...args]];
  const child = spawn(command, argv, {
    cwd: options.cwd ?? ROOT,
    // DATABASE_URL would move the ledger to PostgreSQL: only the tests that ask for it get it.
    env: { ...withoutKey(process.env, 'DATABASE_URL'), NO_COLOR: '1', CI: '1', DUCKORCH_RETRY_BASE: '0.01', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  let result: CliResult | undefined;
  const watchers = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of watchers) w();
  });
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      result = { code, signal, stdout, stderr };
      resolve(result);
      for (const w of watchers) w();
    });
  });
  whenTestFinishes('startCli()', async () => {
    if (result) return;
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForStderr(pattern, timeoutMs = READY_TIMEOUT) {
      return new Promise<string>((resolve, reject) => {
        const settle = (fn: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          fn();
        };
        const check = () => {
          const line = stderr.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) settle(() => resolve(line));
          else if (result)
            settle(() =>
              reject(
                new Error(
                  `duck-orch ${args.join(' ')} exited (${result!.code ?? result!.signal}) without printing ${pattern} on stderr:\n${stderr}`,
                ),
              ),
            );
        };
        const timer = setTimeout(
          () =>
            settle(() =>
              reject(new Error(`no line matching ${pattern} on stderr of duck-orch ${args.join(' ')} after ${timeoutMs} ms:\n${stderr}`)),
            ),
          timeoutMs,
        );
        watchers.add(check);
        check();
      });
    },
  };
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. A readiness wait, not a sleep. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = READY_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A regular expression for one log line of `run` (see src/interfaces/cli/progress.ts): `rest` follows the timestamp. */
export function logLine(rest: string): RegExp {
  return new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ${rest}$`, 'm');
}
/** A duration as the log lines print it. */
export const DURATION = String.raw`(?:\d+ms|\d+\.\d\ds)`;

/** The rows of a query on a database file, opened and closed for it. */
export async function queryDb(db: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(db);
  try {
    const conn = await instance.connect();
    try {
      return (await conn.runAndReadAll(sql)).getRows();
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

export function json<T = Record<string, unknown>>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

/**
 * A Dag module (`export const dag`, named `work`) of `jobs` independent tasks `job_000`, … that
 * each sleep `baseMs + (i % cycle) * stepMs` and return `{ i }`: work that takes a while, so that
 * kills and restarts land while jobs are in flight.
 */
export function slowJobsDag(jobs: number, baseMs: number, cycle: number, stepMs: number): string {
  return `import { Dag } from 'duckorch';
export const dag = new Dag('work');
for (let i = 0; i < ${jobs}; i++)
  dag.task({ name: 'job_' + String(i).padStart(3, '0') }, async () => {
    await new Promise((resolve) => setTimeout(resolve, ${baseMs} + (i % ${cycle}) * ${stepMs}));
    return { i };
  });
`;
}

/**
 * Writes `tasks/gate.ts`: a Dag task `gate` that waits until the test creates the returned file
 * (or its attempt is stopped), so that the process running it holds the database until then.
 */
export function writeGateTask(p: TempProject): string {
  const gate = path.join(p.dir, 'open-the-gate');
  p.write(
    'tasks/gate.ts',
    `import fs from 'node:fs';
import { Dag } from 'duckorch';
export const dag = new Dag('gated');
dag.task({ name: 'gate' }, async (_inputs: unknown, ctx) => {
  while (!fs.existsSync(${JSON.stringify(gate)})) {
    if (ctx.signal.aborted) throw new Error('stopped');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { opened: true };
});
`,
  );
  return gate;
}

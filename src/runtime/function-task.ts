/**
 * One attempt of one TypeScript function task, in this thread: assets, and Dag tasks declared
 * with `isolation: 'inline'` (other Dag tasks run in a worker thread: `function-threads.ts`).
 *
 * A Dag task is called as `fn(inputs, ctx)`; an asset as `fn(ctx)` with `ctx.connection`, a
 * DuckDB connection inside a transaction that this runner owns: on success it is committed
 * (through `commit`, which records the outcome in the same transaction, when given), on any
 * failure rolled back, and the connection is closed either way — as `sql-task.ts` does for SQL.
 *
 * Timeouts and cancellation abort `ctx.signal`. A function in this thread cannot be stopped from
 * the outside: one that ignores `ctx.signal` keeps running in the background after its attempt
 * timed out or was cancelled (its result is ignored). An asset's connection is closed at that
 * point, so nothing it does afterwards can land in the database.
 */
import { inspect } from 'node:util';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { jsonProblem, type JsonValue } from '../model/json.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { DataTransaction } from '../store/ledger.js';
import { partitionSpace } from '../model/partitions/space.js';
import { AttemptFailure } from './attempt-failure.js';

export type { JsonValue } from '../model/json.js';

/** What a Dag task's function gets besides its inputs. */
export interface TaskContext {
  runId: string;
  jobId: string;
  taskName: string;
  /** 1 for the first attempt. */
  attempt: number;
  partitionKey: string | null;
  /** A multi partition's key by dimension (`{ date: '2026-01-05', region: 'jp' }`); empty otherwise. */
  partitionDimensions: Record<string, string>;
  /** A time partition's period, start inclusive and end exclusive (UTC). */
  partitionWindow: { start: Date; end: Date } | null;
  /** The run's input payload (what root tasks also get as `inputs`). */
  runInputs: JsonValue | null;
  /** Aborted when the attempt times out or the run is cancelled: pass it on, or check it. */
  signal: AbortSignal;
  log: (message: string) => void;
}

/** What an asset's function gets: the task context and a connection inside the attempt's transaction. */
export interface AssetContext extends TaskContext {
  /** Inside a transaction duck-orch owns: do not BEGIN, COMMIT or ROLLBACK on it. */
  connection: DuckDBConnection;
}

export interface FunctionOutcome {
  result: JsonValue | null;
}

export interface FunctionAttemptOptions {
  task: TaskDefinition;
  /** The task's function (see `resolveTaskFunction`). */
  fn: (...args: never[]) => unknown;
  /** A Dag task's inputs: the run's payload for a root task, `{ upstream: result }` otherwise. Not passed to assets. */
  inputs: unknown;
  context: { runId: string; jobId: string; attempt: number; partitionKey: string | null; runInputs: JsonValue | null };
  /** The database an asset writes; a Dag task needs none. */
  instance: DuckDBInstance | undefined;
  timeoutMs: number | null;
  /** Aborting cancels the attempt (`cancelled`); `ctx.signal` is aborted too. */
  signal?: AbortSignal;
  log: (message: string) => void;
  /** For assets: commits the open transaction, recording the outcome in it when the store can. Without it the attempt commits by itself. */
  commit?: (outcome: FunctionOutcome, tx: DataTransaction) => Promise<void>;
}

export type Ending = { kind: 'timeout' } | { kind: 'cancelled' };

/** Runs one attempt; throws `AttemptFailure` when it fails. */
export async function runFunctionAttempt(options: FunctionAttemptOptions): Promise<FunctionOutcome> {
  const { task } = options;
  if (task.kind !== 'function' || !task.function) {
    throw new AttemptFailure('definition', `task ${task.name} is not a function task`, {});
  }
  if (options.signal?.aborted) throw new AttemptFailure('cancelled', 'cancelled before it started', {});
  const isAsset = task.function.dag === null;
  const controller = new AbortController();
  let ended: Ending | undefined;
  let stop!: (e: Ending) => void;
  const stopped = new Promise<Ending>((resolve) => {
    stop = (e) => {
      if (ended) return;
      ended = e;
      controller.abort(new Error(e.kind === 'timeout' ? `task ${task.name} timed out` : `task ${task.name} was cancelled`));
      resolve(e);
    };
  });
  const onAbort = () => stop({ kind: 'cancelled' });
  options.signal?.addEventListener('abort', onAbort);
  const timer = options.timeoutMs === null ? undefined : setTimeout(() => stop({ kind: 'timeout' }), options.timeoutMs);

  let conn: DuckDBConnection | undefined;
  let interrupting: NodeJS.Timeout | undefined;
  try {
    const base: TaskContext = {
      runId: options.context.runId,
      jobId: options.context.jobId,
      taskName: task.name,
      attempt: options.context.attempt,
      partitionKey: options.context.partitionKey,
      ...partitionContext(task, options.context.partitionKey),
      runInputs: options.context.runInputs,
      signal: controller.signal,
      log: options.log,
    };
    let call: () => unknown;
    if (isAsset) {
      if (!options.instance)
        throw new AttemptFailure('definition', `asset ${task.name} needs a DuckDB database, and this worker holds none`, {});
      const c = await options.instance.connect();
      conn = c;
      await c.run('BEGIN TRANSACTION');
      const ctx: AssetContext = { ...base, connection: guardConnection(c, () => ended, task.name) };
      call = () => (options.fn as (ctx: AssetContext) => unknown)(ctx);
    } else {
      call = () => (options.fn as (inputs: unknown, ctx: TaskContext) => unknown)(options.inputs, base);
    }
    const running = Promise.resolve().then(call);
    const settled = await Promise.race([
      running.then(
        (value) => ({ kind: 'returned' as const, value }),
        (error: unknown) => ({ kind: 'threw' as const, error }),
      ),
      stopped,
    ]);
    if (settled.kind === 'timeout' || settled.kind === 'cancelled') {
      // Whatever the function still has in flight on its connection is interrupted and rolled back below.
      if (conn) {
        const c = conn;
        c.interrupt();
        interrupting = setInterval(() => c.interrupt(), 50);
      }
      throw endedFailure(task, settled, options.timeoutMs, isAsset ? 'asset' : 'inline');
    }
    if (settled.kind === 'threw') throw thrownFailure(task, settled.error);
    const result = toJsonResult(task, settled.value);
    if (ended) throw endedFailure(task, ended, options.timeoutMs, isAsset ? 'asset' : 'inline');
    const outcome = { result };
    if (conn) {
      try {
        if (options.commit) await options.commit(outcome, { connection: conn });
        else await conn.run('COMMIT');
      } catch (err) {
        if (err instanceof AttemptFailure) throw err;
        const message = err instanceof Error ? err.message : String(err);
        const conflict = /TransactionContext Error.*conflict|write-write conflict/i.test(message);
        throw new AttemptFailure(conflict ? 'conflict' : 'sql', `task ${task.name} could not commit: ${message.split('\n')[0]}`, {
          duckdb_error: message,
        });
      }
    }
    return outcome;
  } catch (err) {
    if (conn) await conn.run('ROLLBACK').catch(() => undefined);
    if (err instanceof AttemptFailure) throw err;
    // Connecting or BEGIN failed.
    throw new AttemptFailure('sql', `task ${task.name}: ${err instanceof Error ? err.message : String(err)}`, {});
  } finally {
    ended ??= { kind: 'cancelled' }; // The attempt is over: the guarded connection refuses from now on.
    options.signal?.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
    if (interrupting) clearInterval(interrupting);
    conn?.closeSync();
  }
}

/** What became of the function when its attempt ended early: still running (inline), rolled back (asset), or stopped with its thread. */
export type StoppedHow = 'inline' | 'asset' | 'thread';

const BACKGROUND =
  'ctx.signal was aborted; a function that ignores ctx.signal keeps running in the background until it returns, and its result is ignored';
const TERMINATED = "ctx.signal was aborted and the function's thread terminated: nothing it would have done afterwards runs";

export function endedFailure(task: TaskDefinition, ending: Ending, timeoutMs: number | null, how: StoppedHow): AttemptFailure {
  const rolledBack = how === 'asset' ? '; its changes were rolled back' : '';
  const note = how === 'thread' ? TERMINATED : BACKGROUND;
  if (ending.kind === 'timeout') {
    const seconds = (timeoutMs ?? 0) / 1000;
    return new AttemptFailure('timeout', `task ${task.name} timed out after ${seconds}s (timeout)${rolledBack}`, {
      timeout_seconds: seconds,
      note,
    });
  }
  return new AttemptFailure('cancelled', `cancelled: the run was interrupted${rolledBack}`, { note });
}

export function thrownFailure(task: Pick<TaskDefinition, 'name'>, error: unknown): AttemptFailure {
  if (error instanceof AttemptFailure) return error;
  if (error instanceof Error) {
    const conflict = /TransactionContext Error.*conflict|write-write conflict/i.test(error.message);
    return new AttemptFailure(conflict ? 'conflict' : 'function', `task ${task.name} failed: ${error.message || error.name}`, {
      error: error.message,
      error_name: error.name,
      ...(error.stack ? { stack: error.stack } : {}),
    });
  }
  // Errors-like objects from other realms keep their message.
  const shown = typeof error === 'string' ? JSON.stringify(error) : inspect(error, { depth: 2, breakLength: Infinity });
  return new AttemptFailure('function', `task ${task.name} threw a non-Error value: ${shown}`, { thrown: shown });
}

/** The JSON result (`undefined` → null), or a `result` failure naming what is not JSON and where. */
function toJsonResult(task: TaskDefinition, value: unknown): JsonValue | null {
  // Exactly what will be stored: toJSON() applied, undefined properties gone.
  return JSON.parse(jsonResultText(task, value)) as JsonValue | null;
}

/** The result as JSON text (`undefined` → `null`); throws the `result` failure `toJsonResult` describes. */
export function jsonResultText(task: Pick<TaskDefinition, 'name'>, value: unknown): string {
  if (value === undefined) return 'null';
  const problem = jsonProblem(value);
  if (problem) {
    throw new AttemptFailure(
      'result',
      `task ${task.name} returned a value that is not JSON-serialisable: ${problem.path} is ${problem.what}`,
      {
        path: problem.path,
        problem: problem.what,
      },
    );
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The connection as the function sees it: the real one while the attempt lasts, refusing every
 * call once it has ended (so a function still running after its timeout cannot write outside
 * the rolled-back transaction, nor use a closed connection).
 */
function guardConnection(conn: DuckDBConnection, ended: () => Ending | undefined, taskName: string): DuckDBConnection {
  return new Proxy(conn, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const e = ended();
        if (e) {
          throw new Error(
            `the attempt of task ${taskName} has ended (${e.kind === 'timeout' ? 'timed out' : 'finished or cancelled'}); its connection is closed`,
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export function partitionContext(
  task: Pick<TaskDefinition, 'partitions'>,
  key: string | null,
): Pick<TaskContext, 'partitionDimensions' | 'partitionWindow'> {
  if (key === null || task.partitions === null) return { partitionDimensions: {}, partitionWindow: null };
  const space = partitionSpace(task.partitions);
  return { partitionDimensions: space.dimensionValues(key), partitionWindow: space.window(key) ?? null };
}

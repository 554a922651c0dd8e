/**
 * The TypeScript task API (Orchex's shape): a `Dag` of tasks that pass JSON results downstream,
 * and `asset()`, a task that materialises a dataset through a DuckDB connection. Options are
 * checked when they are declared, so a mistake fails the module's import with its line.
 *
 * ```ts
 * import { Dag, asset } from 'duckorch';
 *
 * export const etl = new Dag('etl');
 * etl.task({ name: 'extract', retries: 2, timeout: 30 }, async (inputs, ctx) => ({ rows: 10 }));
 * etl.task({ name: 'report', requires: ['extract'] }, async ({ extract }) => extract.rows * 2);
 *
 * export const scores = asset({ name: 'analytics.scores', deps: ['raw.events'] }, async ({ connection }) => {
 *   await connection.run('CREATE OR REPLACE TABLE analytics.scores AS SELECT 1 AS score');
 * });
 * ```
 */
import { DuckorchError } from '../errors.js';
import type { JsonValue } from '../model/json.js';
import {
  ASSET_BRAND,
  BRAND_VERSION,
  DAG_BRAND,
  checkDagName,
  normaliseAsset,
  normaliseDagTask,
  type AssetSpec,
  type CallSite,
  type DagTaskSpec,
} from '../model/taskfile/function-task.js';
import type { AssetContext, TaskContext } from '../runtime/function-task.js';

export type { AssetContext, TaskContext } from '../runtime/function-task.js';
export type { JsonValue } from '../model/json.js';

/** What a task may return: JSON, or nothing (a null result). */
export type TaskResult = JsonValue | void | undefined;

export interface DagTaskOptions {
  /** Letters, digits, `_`, `-` and `.`, starting with a letter or `_`; unique in the project. */
  name: string;
  /** Tasks of this Dag that must succeed first; their results are this task's inputs, by name. */
  requires?: readonly string[];
  /** Seconds an attempt may take; then `ctx.signal` is aborted, the function is stopped and the attempt fails. */
  timeout?: number;
  /** Retries after a failed attempt (default 0). */
  retries?: number;
  description?: string;
  tags?: readonly string[];
  /**
   * `thread` (default): the function runs in a worker thread of the worker's process, terminated
   * at its timeout or on cancel, so that nothing it does afterwards happens. `inline`: it runs in
   * the worker's own thread (it may then share memory with the process), and a timeout only
   * aborts `ctx.signal`: a function that ignores it keeps running in the background.
   */
  isolation?: 'thread' | 'inline';
  /** Partitions, in the grammar of `@partitions_by` (see `AssetOptions.partitions`). */
  partitions?: string;
}

/**
 * A Dag task's function. A root task gets the run's input payload; a task with `requires` gets
 * `{ [upstream]: result }`. Annotate `inputs` with the shape you expect.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- inputs are JSON the caller describes by annotation
export type DagTaskFunction<I = any> = (inputs: I, ctx: TaskContext) => TaskResult | Promise<TaskResult>;

export interface AssetOptions {
  /** The dataset the function materialises: `schema.table` (or `file:path`). */
  name: string;
  /** Datasets it reads: the tasks writing them run first. */
  deps?: readonly string[];
  /** The task's name; default: the dataset's last part (`analytics.scores` → `scores`). */
  task?: string;
  timeout?: number;
  retries?: number;
  description?: string;
  group?: string;
  owner?: string;
  tags?: readonly string[];
  /** Partitions, in the grammar of `@partitions_by`: `'daily(start=2026-01-01)'`, `'static(eu, us)'`, `'multi(…)'`. */
  partitions?: string;
}

export type AssetFunction = (ctx: AssetContext) => TaskResult | Promise<TaskResult>;

/** The module line that called `dag.task()` or `asset()`, for errors found later (an unknown `requires`). */
function callSite(caller: (...args: never[]) => unknown): CallSite | null {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, caller);
  const frame = holder.stack?.split('\n')[1];
  const m = frame === undefined ? null : /^\s*at (?:.*\()?(.+?):(\d+):(\d+)\)?$/.exec(frame);
  return m ? { path: m[1]!, line: Number(m[2]), col: Number(m[3]) } : null;
}

export class Dag {
  /** Recognised across copies of the library (see `src/model/taskfile/function-task.ts`). */
  readonly [DAG_BRAND] = BRAND_VERSION;
  readonly name: string;
  readonly #tasks: DagTaskSpec[] = [];

  constructor(name: string) {
    this.name = checkDagName(name);
  }

  /** The declared tasks, in declaration order. */
  get tasks(): readonly DagTaskSpec[] {
    return [...this.#tasks];
  }

  /** Declares a task; returns the Dag, so that declarations chain. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see DagTaskFunction
  task<I = any>(options: DagTaskOptions, fn: DagTaskFunction<I>): this {
    const spec = normaliseDagTask(this.name, options, fn, callSite(this.task));
    if (this.#tasks.some((t) => t.name === spec.name)) {
      throw new DuckorchError('DUPLICATE_TASK', `Dag \`${this.name}\` already has a task named \`${spec.name}\``, {
        hint: 'task names are unique in a project',
      });
    }
    this.#tasks.push(spec);
    return this;
  }
}

/** The value `asset()` returns: export it from a task module. */
export interface Asset {
  readonly [ASSET_BRAND]: number;
  /** The dataset it materialises. */
  readonly name: string;
  /** The task's name. */
  readonly task: string;
  readonly spec: AssetSpec;
}

/** Declares a task that materialises the dataset `options.name`; export the value it returns. */
export function asset(options: AssetOptions, fn: AssetFunction): Asset {
  const spec = normaliseAsset(options, fn, callSite(asset));
  return Object.freeze({ [ASSET_BRAND]: BRAND_VERSION, name: spec.dataset, task: spec.name, spec });
}

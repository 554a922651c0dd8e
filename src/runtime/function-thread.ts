/**
 * The thread side of `function-threads.ts`: inside a worker thread, runs the Dag task functions
 * its process sends, in batches, one attempt at a time, and reports back. Only JSON text and plain data cross: the
 * inputs and the result as JSON, a failure as its kind, message and context (checked and worded
 * here, by the code an inline attempt uses, so that both fail alike).
 */
import type { MessagePort } from 'node:worker_threads';
import type { AnyFunction } from '../model/taskfile/function-task.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { AttemptFailure } from './attempt-failure.js';
import { jsonResultText, partitionContext, thrownFailure, type Ending, type TaskContext } from './function-task.js';

/** What a thread needs to find a task's function. */
export type ThreadTask = Pick<TaskDefinition, 'name' | 'kind' | 'file' | 'function' | 'partitions'>;

/**
 * Where an attempt of a batch stands, in a cell of memory the process and the thread share, so
 * that each knows what the other may still do: the thread takes an attempt (`QUEUED` → `RUNNING`)
 * only if the process has not withdrawn it, and passes its result on only if the process has
 * not stopped it — so an attempt the process withdraws never runs, and one that finished is
 * never taken for one still running.
 */
export const CELL = { QUEUED: 0, RUNNING: 1, WITHDRAWN: 2, FINISHED: 3, STOPPED: 4 } as const;

/** One attempt of a batch. */
export interface ThreadJob {
  id: number;
  task: ThreadTask;
  /** Passed on to `resolve`: which evaluation of the module the process has (see `moduleEvaluation`). */
  evaluation: number;
  /** JSON text. */
  inputs: string;
  context: { runId: string; jobId: string; attempt: number; partitionKey: string | null; runInputs: string };
  /** Whether to post `started` (its timeout runs from then). */
  tellStarted: boolean;
}

/** The process to the thread. */
export type ToThread =
  /** Attempts to run one after the other; `cells[i]` is where `jobs[i]` stands (`CELL`). */
  { type: 'run'; jobs: ThreadJob[]; cells: SharedArrayBuffer } | { type: 'abort'; id: number; ending: Ending };

/** A failed attempt as plain data. */
export interface FailureData {
  kind: AttemptFailure['kind'];
  message: string;
  context: Record<string, unknown>;
}

/** The thread to the process. */
export type FromThread =
  | { type: 'ready' }
  /** The function was called: its timeout runs from now. */
  | { type: 'started'; id: number }
  | { type: 'log'; id: number; message: string }
  /** JSON text. */
  | { type: 'done'; id: number; result: string }
  | { type: 'failed'; id: number; failure: FailureData };

/** Finds a task's function; throws (a `DuckorchError`) when the module no longer has it. */
export type ResolveFunction = (task: ThreadTask, evaluation: number) => Promise<AnyFunction>;

function failureData(err: AttemptFailure): FailureData {
  return { kind: err.kind, message: err.message, context: err.context };
}

/** Serves `port` until the thread is terminated. */
export function serveFunctions(port: MessagePort, resolve: ResolveFunction): void {
  const running = new Map<number, { controller: AbortController; task: string }>();
  const post = (message: FromThread) => port.postMessage(message);

  /** Runs one attempt; false when the process stopped it (the thread is about to end). */
  async function run(job: ThreadJob, cells: Int32Array, i: number): Promise<boolean> {
    const { task, id } = job;
    const finish = (message: FromThread): boolean => {
      if (Atomics.compareExchange(cells, i, CELL.RUNNING, CELL.FINISHED) !== CELL.RUNNING) return false;
      post(message);
      return true;
    };
    let fn: AnyFunction;
    try {
      fn = await resolve(task, job.evaluation);
    } catch (err) {
      // The module changed or went away since the run was planned: retrying will not bring it back.
      const message = err instanceof Error ? err.message : String(err);
      return finish({ type: 'failed', id, failure: { kind: 'definition', message, context: {} } });
    }
    const controller = new AbortController();
    running.set(id, { controller, task: task.name });
    const ctx: TaskContext = {
      runId: job.context.runId,
      jobId: job.context.jobId,
      taskName: task.name,
      attempt: job.context.attempt,
      partitionKey: job.context.partitionKey,
      ...partitionContext(task, job.context.partitionKey),
      runInputs: JSON.parse(job.context.runInputs) as TaskContext['runInputs'],
      signal: controller.signal,
      // Tagged with the attempt, so that a line a finished attempt still logs is not taken for the next one's.
      log: (message) => post({ type: 'log', id, message: String(message) }),
    };
    const inputs: unknown = JSON.parse(job.inputs);
    if (job.tellStarted) post({ type: 'started', id });
    try {
      const value = await (fn as (inputs: unknown, ctx: TaskContext) => unknown)(inputs, ctx);
      return finish({ type: 'done', id, result: jsonResultText(task, value) });
    } catch (err) {
      return finish({ type: 'failed', id, failure: failureData(err instanceof AttemptFailure ? err : thrownFailure(task, err)) });
    } finally {
      running.delete(id);
    }
  }

  // Batches run one after the other, in the order they came.
  let queue = Promise.resolve(true);
  const runAll = async (m: Extract<ToThread, { type: 'run' }>): Promise<boolean> => {
    const cells = new Int32Array(m.cells);
    for (const [i, job] of m.jobs.entries()) {
      if (Atomics.compareExchange(cells, i, CELL.QUEUED, CELL.RUNNING) !== CELL.QUEUED) continue; // Withdrawn.
      const going = await run(job, cells, i).catch((err: unknown) => {
        // A fault of this runner, not of the task: the attempt fails, and the next ones still run.
        const message = `task ${job.task.name} could not be run in its thread: ${err instanceof Error ? err.message : String(err)}`;
        if (Atomics.compareExchange(cells, i, CELL.RUNNING, CELL.FINISHED) !== CELL.RUNNING) return false;
        post({ type: 'failed', id: job.id, failure: { kind: 'function', message, context: {} } });
        return true;
      });
      if (!going) return false;
    }
    return true;
  };

  port.on('message', (m: ToThread) => {
    if (m.type === 'run') queue = queue.then((going) => going && runAll(m));
    else {
      const r = running.get(m.id);
      r?.controller.abort(new Error(`task ${r.task} ${m.ending.kind === 'timeout' ? 'timed out' : 'was cancelled'}`));
    }
  });
  post({ type: 'ready' });
}

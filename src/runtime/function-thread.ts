/**
 * The thread side of `function-threads.ts`: inside a worker thread, runs the Dag task functions
 * its process sends, one at a time, and reports back. Only JSON text and plain data cross: the
 * inputs and the result as JSON, a failure as its kind, message and context (checked and worded
 * here, by the code an inline attempt uses, so that both fail alike).
 */
import type { MessagePort } from 'node:worker_threads';
import type { AnyFunction } from '../model/taskfile/function-task.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { AttemptFailure } from './attempt-failure.js';
import { jsonResultText, thrownFailure, type Ending, type TaskContext } from './function-task.js';

/** What a thread needs to find a task's function. */
export type ThreadTask = Pick<TaskDefinition, 'name' | 'kind' | 'file' | 'function'>;

/** The process to the thread. */
export type ToThread =
  | {
      type: 'run';
      id: number;
      task: ThreadTask;
      /** Passed on to `resolve`: which evaluation of the module the process has (see `moduleEvaluation`). */
      evaluation: number;
      /** JSON text. */
      inputs: string;
      context: { runId: string; jobId: string; attempt: number; partitionKey: string | null; runInputs: string };
      /** Whether to post `started`. */
      tellStarted: boolean;
    }
  | { type: 'abort'; id: number; ending: Ending };

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

  async function run(m: Extract<ToThread, { type: 'run' }>): Promise<void> {
    const { task, id } = m;
    let fn: AnyFunction;
    try {
      fn = await resolve(task, m.evaluation);
    } catch (err) {
      // The module changed or went away since the run was planned: retrying will not bring it back.
      post({ type: 'failed', id, failure: { kind: 'definition', message: err instanceof Error ? err.message : String(err), context: {} } });
      return;
    }
    const controller = new AbortController();
    running.set(id, { controller, task: task.name });
    const ctx: TaskContext = {
      runId: m.context.runId,
      jobId: m.context.jobId,
      taskName: task.name,
      attempt: m.context.attempt,
      partitionKey: m.context.partitionKey,
      runInputs: JSON.parse(m.context.runInputs) as TaskContext['runInputs'],
      signal: controller.signal,
      // Tagged with the attempt, so that a line a finished attempt still logs is not taken for the next one's.
      log: (message) => post({ type: 'log', id, message: String(message) }),
    };
    const inputs: unknown = JSON.parse(m.inputs);
    if (m.tellStarted) post({ type: 'started', id });
    try {
      const value = await (fn as (inputs: unknown, ctx: TaskContext) => unknown)(inputs, ctx);
      post({ type: 'done', id, result: jsonResultText(task, value) });
    } catch (err) {
      post({ type: 'failed', id, failure: failureData(err instanceof AttemptFailure ? err : thrownFailure(task, err)) });
    } finally {
      running.delete(id);
    }
  }

  port.on('message', (m: ToThread) => {
    if (m.type === 'run') void run(m);
    else {
      const r = running.get(m.id);
      r?.controller.abort(new Error(`task ${r.task} ${m.ending.kind === 'timeout' ? 'timed out' : 'was cancelled'}`));
    }
  });
  post({ type: 'ready' });
}

/**
 * The process's threads for Dag tasks (`runtime/function-threads.ts`), whose entry loads task
 * modules as this process does (`dag-thread-entry.ts`). Compiled module code is shared both
 * ways, so that a module is compiled once per process, not once per thread.
 */
import type { FunctionOutcome } from '../runtime/function-task.js';
import { FunctionThreadPool, type ThreadAttemptOptions } from '../runtime/function-threads.js';
import type { DagThreadData } from './dag-thread-entry.js';
import { addCompiledModule, compiledModules, moduleEvaluation } from './task-modules.js';

let pool: FunctionThreadPool | undefined;

/** One attempt of a Dag task in one of the process's threads; throws `AttemptFailure` when it fails. */
export function runInDagThread(options: Omit<ThreadAttemptOptions, 'evaluation'>): Promise<FunctionOutcome> {
  const evaluation = moduleEvaluation(options.task.function!.module);
  return dagThreads().run({ ...options, evaluation });
}

function dagThreads(): FunctionThreadPool {
  pool ??= new FunctionThreadPool({
    entry: threadEntry(),
    workerData: (): DagThreadData => ({ compiled: compiledModules() }),
    onMessage: (m) => {
      const c = m as { type?: string; key: string; code: string };
      if (c.type === 'compiled') addCompiledModule(c.key, c.code);
    },
  });
  return pool;
}

function threadEntry(): URL {
  // Run from the TypeScript source (vitest), this module has no compiled sibling a thread could
  // load: the thread runs the build's entry (the test set-up builds dist/ when it is stale).
  if (import.meta.url.endsWith('.ts')) return new URL('../../dist/app/dag-thread-entry.js', import.meta.url);
  return new URL('./dag-thread-entry.js', import.meta.url);
}

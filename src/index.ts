/** The duck-orch library API: the same application service the CLI uses. */
import type { Validation } from './app/registration.js';
import { provideTaskLibrary } from './task-library.js';
import * as library from './index.js';

// `import … from 'duckorch'` in a task module is this very API.
provideTaskLibrary(() => Promise.resolve(library));

export { Project } from './app/project.js';
export type { RegisterResult, RunOptions, RunResult, Selection, TaskListing, Validation } from './app/project.js';

/**
 * Parses and analyses task files and folders without a project database (`duck-orch validate`).
 * Loaded when called: task modules import this package, and a worker running them should not pay
 * for SQL analysis it never does.
 */
export async function validatePaths(paths: readonly string[]): Promise<Validation> {
  return (await import('./app/registration.js')).validatePaths(paths);
}
export { loadConfig, parseConfig } from './config/config.js';
export type { Config } from './config/config.js';
export { DuckorchError, DuckorchErrors } from './errors.js';
export type { ErrorCode, SourceLocation } from './errors.js';
export type { TaskDefinition } from './model/taskfile/task.js';
export { taskToJson } from './model/taskfile/task-json.js';
export type { Store } from './store/store.js';
export { Dag, asset } from './lib/index.js';
export { connect, RunWaitTimeoutError } from './client/client.js';
export type {
  Client,
  ClientOptions,
  EnqueueManyOptions,
  EnqueueOptions,
  QueueDepth,
  RunInfo,
  RunJson,
  WaitOptions,
} from './client/client.js';
export type { JobState, RunState } from './model/jobs/job-state.js';
export type {
  Asset,
  AssetContext,
  AssetFunction,
  AssetOptions,
  DagTaskFunction,
  DagTaskOptions,
  JsonValue,
  TaskContext,
  TaskResult,
} from './lib/index.js';

/**
 * The entry of a thread that runs Dag tasks (see `dag-threads.ts`): task modules are loaded as
 * the process loads them (jiti, `duckorch` meaning this copy), starting from the code the
 * process already compiled and telling it what this thread compiles.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { DuckorchError, DuckorchErrors } from '../errors.js';
import type * as duckorch from '../index.js';
import { Dag, asset } from '../lib/index.js';
import { serveFunctions } from '../runtime/function-thread.js';
import { configureTaskModules, resolveTaskFunction } from './task-modules.js';

const require = createRequire(import.meta.url);
type Library = typeof duckorch;
let full: Library | undefined;
const whole = (): Library => (full ??= require('../index.js') as Library);

/**
 * `duckorch` in a thread: the whole library, but what task modules use is at hand at once and
 * the rest (which loads DuckDB, the CLI's configuration…) only when a module touches it, so that
 * a thread starts in a fraction of the time.
 */
const quick: Partial<Library> = { Dag, asset, DuckorchError, DuckorchErrors };
const library = new Proxy(quick, {
  get: (target, key) => {
    if (Object.hasOwn(target, key)) return target[key as keyof Library];
    // Promises look for `then` on whatever they resolve with (the loader's do): no need to load the rest to say there is none.
    if (key === 'then') return undefined;
    return Reflect.get(whole(), key);
  },
  has: (target, key) => Object.hasOwn(target, key) || Reflect.has(whole(), key),
  ownKeys: () => Reflect.ownKeys(whole()),
  getOwnPropertyDescriptor: (_target, key) =>
    Reflect.has(whole(), key) ? { value: Reflect.get(whole(), key), writable: false, enumerable: true, configurable: true } : undefined,
});

const port = parentPort!;
const data = workerData as DagThreadData;

/** What the process gives a new thread. */
export interface DagThreadData {
  /** Compiled task modules, by key (`compiledModules()`). */
  compiled: Array<[string, string]>;
}

configureTaskModules({
  library: () => Promise.resolve(library),
  transforms: data.compiled,
  onTransform: (key, code) => port.postMessage({ type: 'compiled', key, code }),
});
serveFunctions(port, resolveTaskFunction);

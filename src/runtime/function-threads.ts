/**
 * Dag task functions in worker threads of this process, so that a timeout or a cancel stops
 * them: the thread is terminated, and whatever the function would have done afterwards never
 * happens. (In the worker's own thread a function that ignores `ctx.signal` runs on: see
 * `function-task.ts`, which still runs assets and `isolation: 'inline'` tasks.)
 *
 * Threads are kept warm and reused: a thread runs one attempt at a time, loads each task module
 * once, and is replaced only when it was terminated or died. Starting one costs far more than
 * an attempt of a short function, so the pool grows one thread at a time: a job that finds no
 * free thread waits for the first one free — a busy one finishing or the one starting — and a
 * thread is started only when none is starting already. Short jobs are then served by the
 * threads there are; long ones each get a thread soon.
 *
 * An attempt's timeout runs from the moment the thread calls the function (`started`), not
 * while the thread starts or loads the module.
 */
import { Worker } from 'node:worker_threads';
import type { JsonValue } from '../model/json.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { AttemptFailure } from './attempt-failure.js';
import type { FromThread, ThreadTask, ToThread } from './function-thread.js';
import { endedFailure, type Ending, type FunctionAttemptOptions, type FunctionOutcome } from './function-task.js';

export interface ThreadPoolOptions {
  /** The thread's entry module; it calls `serveFunctions` (`function-thread.ts`). */
  entry: URL;
  /** `workerData` for a new thread, read when it starts. */
  workerData?: () => unknown;
  /** Messages of a thread that are not the pool's own. */
  onMessage?: (message: unknown) => void;
}

export interface ThreadAttemptOptions {
  /** A Dag task (`function.dag` set). */
  task: TaskDefinition;
  /** The module's evaluation in this process (see `moduleEvaluation`), so that a thread reloads what the process reloaded. */
  evaluation: number;
  inputs: JsonValue | null;
  context: FunctionAttemptOptions['context'];
  timeoutMs: number | null;
  /** Aborting cancels the attempt (`cancelled`) and terminates its thread. */
  signal?: AbortSignal;
  log: (message: string) => void;
}

const POOL_MESSAGES = new Set(['ready', 'started', 'log', 'done', 'failed']);

/** One attempt in a thread: what the thread's messages settle. */
interface Attempt {
  id: number;
  started(): void;
  log(message: string): void;
  done(result: string): void;
  failed(failure: AttemptFailure): void;
  /** The thread ended under it (`process.exit()`, an uncaught exception). */
  died(why: string): void;
}

class FunctionThread {
  readonly worker: Worker;
  /** Until `ready`; then idle or running `attempt`; `dead` once it exited. */
  state: 'starting' | 'idle' | 'busy' | 'dead' = 'starting';
  /** Starting, or loading a module no thread has loaded yet. */
  warming = true;
  attempt: Attempt | undefined;
  private error: unknown;

  constructor(
    options: ThreadPoolOptions,
    private readonly events: { ready(t: FunctionThread): void; exit(t: FunctionThread, why: string): void },
  ) {
    this.worker = new Worker(options.entry, options.workerData ? { workerData: options.workerData() } : {});
    this.worker.on('message', (m: FromThread) => {
      if (!POOL_MESSAGES.has(m.type)) options.onMessage?.(m);
      else if (m.type === 'ready') events.ready(this);
      else if (this.attempt?.id !== m.id)
        return; // From an attempt that has ended.
      else if (m.type === 'started') this.attempt.started();
      else if (m.type === 'log') this.attempt.log(m.message);
      else if (m.type === 'done') this.attempt.done(m.result);
      else if (m.type === 'failed') this.attempt.failed(new AttemptFailure(m.failure.kind, m.failure.message, m.failure.context));
    });
    // An uncaught exception in the thread (a stray rejection, a throw in a timer) ends it: 'error', then 'exit'.
    this.worker.on('error', (err) => (this.error ??= err));
    this.worker.on('exit', (code) => {
      const was = this.state;
      this.state = 'dead';
      const e = this.error;
      const why =
        e instanceof Error ? `${e.name}: ${e.message}` : e !== undefined ? `it threw ${String(e)}` : `it exited with code ${code}`;
      events.exit(this, was === 'starting' ? `could not start: ${why}` : why);
    });
  }

  post(message: ToThread): void {
    this.worker.postMessage(message);
  }

  /** Stops the thread now, whatever it is doing. */
  terminate(): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    void this.worker.terminate();
  }
}

/** How long a job waits for a busy thread before the pool starts another: starting one costs more than a short attempt. */
const GROW_AFTER_MS = 50;

interface Waiter {
  since: number;
  take(t: FunctionThread): void;
  fail(err: AttemptFailure): void;
}

export class FunctionThreadPool {
  private readonly threads = new Set<FunctionThread>();
  private readonly idle: FunctionThread[] = [];
  private readonly waiting: Waiter[] = [];
  /** Modules (path and evaluation) a thread has loaded: a new thread gets their compiled code. */
  private readonly loaded = new Set<string>();
  private growth: NodeJS.Timeout | undefined;
  /** When the last thread stopped warming: waiting while one warmed is not waiting for a busy thread. */
  private warmSince = 0;
  private nextId = 0;

  constructor(private readonly options: ThreadPoolOptions) {}

  /** Runs one attempt of a Dag task in a thread; throws `AttemptFailure` when it fails. */
  async run(o: ThreadAttemptOptions): Promise<FunctionOutcome> {
    if (o.signal?.aborted) throw new AttemptFailure('cancelled', 'cancelled before it started', {});
    const thread = await this.acquire(o.signal);
    try {
      return await this.attempt(thread, o);
    } finally {
      if (thread.state === 'busy') this.release(thread);
    }
  }

  /** Terminates every thread (those running an attempt too). */
  async close(): Promise<void> {
    clearTimeout(this.growth);
    const exits = [...this.threads].map((t) => new Promise((resolve) => t.worker.once('exit', resolve)));
    for (const t of this.threads) t.terminate();
    await Promise.all(exits);
  }

  private attempt(thread: FunctionThread, o: ThreadAttemptOptions): Promise<FunctionOutcome> {
    const { task } = o;
    const module = `${task.function!.module}\0${o.evaluation}`;
    // The first load of a module compiles it: until it is done, no other thread starts (it would compile it again).
    if (this.loaded.has(module)) this.warmed(thread);
    return new Promise<FunctionOutcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const id = ++this.nextId;
      const end = (settle: () => void) => {
        if (thread.attempt?.id !== id) return;
        thread.attempt = undefined;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        this.warmed(thread);
        settle();
      };
      const stop = (ending: Ending) =>
        end(() => {
          // ctx.signal first, for what it is worth; the thread is gone right after.
          thread.post({ type: 'abort', id, ending });
          thread.terminate();
          reject(endedFailure(task, ending, o.timeoutMs, 'thread'));
        });
      const onAbort = () => stop({ kind: 'cancelled' });
      o.signal?.addEventListener('abort', onAbort);
      thread.attempt = {
        id,
        started: () => {
          this.loaded.add(module);
          this.warmed(thread);
          if (o.timeoutMs !== null) timer = setTimeout(() => stop({ kind: 'timeout' }), o.timeoutMs);
        },
        log: (message) => o.log(message),
        done: (result) => end(() => resolve({ result: JSON.parse(result) as JsonValue | null })),
        failed: (failure) => end(() => reject(failure)),
        died: (why) =>
          end(() => reject(new AttemptFailure('function', `task ${task.name} failed: its thread ended: ${why}`, { error: why }))),
      };
      thread.post({
        type: 'run',
        id,
        task: threadTask(task),
        evaluation: o.evaluation,
        inputs: JSON.stringify(o.inputs ?? null),
        context: { ...o.context, runInputs: JSON.stringify(o.context.runInputs ?? null) },
        // One message fewer per attempt when nothing waits for it.
        tellStarted: o.timeoutMs !== null || thread.warming,
      });
    });
  }

  /** A free thread: an idle one, or the first to become free. */
  private acquire(signal: AbortSignal | undefined): Promise<FunctionThread> {
    const free = this.idle.pop();
    if (free) return Promise.resolve(this.busy(free));
    return new Promise<FunctionThread>((resolve, reject) => {
      const waiter: Waiter = {
        since: performance.now(),
        take: (t) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.busy(t));
        },
        fail: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        waiter.fail(new AttemptFailure('cancelled', 'cancelled before it started', {}));
      };
      signal?.addEventListener('abort', onAbort);
      this.waiting.push(waiter);
      this.grow();
    });
  }

  private busy(t: FunctionThread): FunctionThread {
    t.state = 'busy';
    t.worker.ref();
    return t;
  }

  private release(t: FunctionThread): void {
    const next = this.waiting.shift();
    if (next) return next.take(t);
    t.state = 'idle';
    // An idle thread does not keep the process alive.
    t.worker.unref();
    this.idle.push(t);
  }

  private warmed(t: FunctionThread): void {
    if (!t.warming) return;
    t.warming = false;
    this.warmSince = performance.now();
    this.grow();
  }

  /**
   * Starts a thread when a job has waited `GROW_AFTER_MS` for one (at once when there is none)
   * and no thread is warming up: starting, or loading a module for the first time.
   */
  private grow(): void {
    clearTimeout(this.growth);
    this.growth = undefined;
    const oldest = this.waiting[0];
    if (!oldest || [...this.threads].some((t) => t.warming)) return;
    const waited = performance.now() - Math.max(oldest.since, this.warmSince);
    if (this.threads.size > 0 && waited < GROW_AFTER_MS) {
      this.growth = setTimeout(() => this.grow(), GROW_AFTER_MS - waited);
      return;
    }
    const thread = new FunctionThread(this.options, {
      ready: (t) => {
        t.state = 'busy';
        // Given to a job, it warms on until that job's module is loaded (see `attempt`).
        this.release(t);
        if (this.idle.includes(t)) this.warmed(t);
      },
      exit: (t, why) => {
        this.threads.delete(t);
        if (t.warming) this.warmSince = performance.now();
        const at = this.idle.indexOf(t);
        if (at >= 0) this.idle.splice(at, 1);
        t.attempt?.died(why);
        if (why.startsWith('could not start')) {
          // The next thread would fail alike: the jobs waiting now fail instead of waiting for ever.
          const failure = new AttemptFailure('function', `a thread for TypeScript tasks ${why}`, {});
          for (const w of this.waiting.splice(0)) w.fail(failure);
        }
        this.grow();
      },
    });
    this.threads.add(thread);
  }
}

function threadTask(task: TaskDefinition): ThreadTask {
  return { name: task.name, kind: task.kind, file: task.file, function: task.function };
}

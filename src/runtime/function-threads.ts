/**
 * Dag task functions in worker threads of this process, so that a timeout or a cancel stops
 * them: the thread is terminated, and whatever the function would have done afterwards never
 * happens. (In the worker's own thread a function that ignores `ctx.signal` runs on: see
 * `function-task.ts`, which still runs assets and `isolation: 'inline'` tasks.)
 *
 * Threads are kept warm and reused: each loads a task module once, and is replaced only when it
 * was terminated or died. A thread runs one attempt at a time, from a batch: the attempts that
 * wait when it is free (those the worker started in one turn of the event loop, typically the
 * jobs of one claim). Their results come back together, as they would from functions called in
 * this thread, so that the worker records them (and claims their successors) in one statement
 * rather than one each. An attempt that waits in a batch behind a long one is taken back after
 * `GROW_AFTER_MS` for another thread, which the pool starts then if none is free — one at a
 * time, and never while another is warming up (starting, or loading a module no thread has
 * loaded: the next gets its compiled code rather than compiling it again). Short jobs are thus
 * served by the threads there are; long ones soon get a thread each.
 *
 * An attempt's timeout runs from the moment the thread calls the function (`started`), not
 * while the thread starts or loads the module.
 */
import { Worker } from 'node:worker_threads';
import type { JsonValue } from '../model/json.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { AttemptFailure } from './attempt-failure.js';
import { CELL, type FromThread, type ThreadJob, type ToThread } from './function-thread.js';
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
  /** Aborting cancels the attempt (`cancelled`) and terminates its thread if it is running. */
  signal?: AbortSignal;
  log: (message: string) => void;
}

/** How long an attempt waits behind a busy one before it is given another thread: starting one costs more than a short attempt. */
const GROW_AFTER_MS = 50;
/** How long results that came in are held for the other attempts given to the thread with them, so that they are recorded together. */
const HOLD_MS = 10;

type Outcome = { result: JsonValue | null } | AttemptFailure;

/** One attempt, from `run` until it is settled. */
interface Attempt {
  readonly id: number;
  readonly o: ThreadAttemptOptions;
  readonly since: number;
  settle(outcome: Outcome): void;
  settled: boolean;
  /** Taken back from a thread where it waited behind a busy attempt: only a free thread takes it now. */
  stuck: boolean;
  /** Given to a thread: the thread, the cell where it stands (`CELL`), and when. */
  thread?: FunctionThread;
  cells?: Int32Array;
  cell?: number;
  sentAt?: number;
  /** What the thread reported, held until it is settled with the thread's other results. */
  outcome?: Outcome;
  timer?: NodeJS.Timeout;
}

const POOL_MESSAGES = new Set(['ready', 'started', 'log', 'done', 'failed']);

class FunctionThread {
  readonly worker: Worker;
  /** Until `ready`; then idle or busy with `given`; `dead` once it exited or was terminated. */
  state: 'starting' | 'idle' | 'busy' | 'dead' = 'starting';
  /** Starting, or loading a module no thread has loaded yet. */
  warming = true;
  /** The attempts it was given, in order; the settled ones go when it is free. */
  given: Attempt[] = [];
  /** Looks for attempts that wait behind a busy one (`takeBack`). */
  steal: NodeJS.Timeout | undefined;
  /** Holds results back (`HOLD_MS`). */
  hold: NodeJS.Timeout | undefined;
  /** Why the pool terminated it. */
  private stoppedBecause: string | undefined;
  private error: unknown;

  constructor(
    options: ThreadPoolOptions,
    events: { message(t: FunctionThread, m: FromThread): void; exit(t: FunctionThread, why: string): void },
  ) {
    this.worker = new Worker(options.entry, options.workerData ? { workerData: options.workerData() } : {});
    this.worker.on('message', (m: FromThread) => (POOL_MESSAGES.has(m.type) ? events.message(this, m) : options.onMessage?.(m)));
    // An uncaught exception in the thread (a stray rejection, a throw in a timer) ends it: 'error', then 'exit'.
    this.worker.on('error', (err) => (this.error ??= err));
    this.worker.on('exit', (code) => {
      const was = this.state;
      this.state = 'dead';
      this.clearTimers();
      const e = this.error;
      const why =
        this.stoppedBecause ??
        (e instanceof Error ? `${e.name}: ${e.message}` : e !== undefined ? `it threw ${String(e)}` : `it exited with code ${code}`);
      events.exit(this, was === 'starting' ? `could not start: ${why}` : why);
    });
  }

  post(message: ToThread): void {
    this.worker.postMessage(message);
  }

  clearTimers(): void {
    clearTimeout(this.steal);
    clearTimeout(this.hold);
    this.steal = this.hold = undefined;
  }

  /** Stops the thread now, whatever it is doing. */
  terminate(because: string): void {
    if (this.state === 'dead') return;
    this.stoppedBecause = because;
    this.state = 'dead';
    this.clearTimers();
    void this.worker.terminate();
  }
}

export class FunctionThreadPool {
  private readonly threads = new Set<FunctionThread>();
  /** Attempts waiting for a thread, oldest first. */
  private readonly waiting: Attempt[] = [];
  /** Modules (path and evaluation) a thread has loaded: a new thread gets their compiled code. */
  private readonly loaded = new Set<string>();
  private growth: NodeJS.Timeout | undefined;
  /** When the last thread stopped warming: waiting while one warmed is not waiting behind a busy one. */
  private warmSince = 0;
  private dispatching = false;
  private nextId = 0;

  constructor(private readonly options: ThreadPoolOptions) {}

  /** Runs one attempt of a Dag task in a thread; throws `AttemptFailure` when it fails. */
  run(o: ThreadAttemptOptions): Promise<FunctionOutcome> {
    if (o.signal?.aborted) return Promise.reject(new AttemptFailure('cancelled', 'cancelled before it started', {}));
    return new Promise<FunctionOutcome>((resolve, reject) => {
      const onAbort = () => this.stop(a, { kind: 'cancelled' });
      const a: Attempt = {
        id: ++this.nextId,
        o,
        since: performance.now(),
        settled: false,
        stuck: false,
        settle: (outcome) => {
          if (a.settled) return;
          a.settled = true;
          clearTimeout(a.timer);
          o.signal?.removeEventListener('abort', onAbort);
          if (outcome instanceof AttemptFailure) reject(outcome);
          else resolve(outcome);
        },
      };
      o.signal?.addEventListener('abort', onAbort);
      this.waiting.push(a);
      this.dispatchSoon();
    });
  }

  /** Dispatches once the attempts started in this turn of the event loop have all arrived, so that they go together. */
  private dispatchSoon(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    setImmediate(() => {
      this.dispatching = false;
      this.dispatch();
    });
  }

  /**
   * Gives the waiting attempts to the free threads, shared out evenly; with none free, to the
   * busy thread with the fewest (they run when it is done with those: see `takeBack`). Grows
   * the pool when attempts are left waiting.
   */
  private dispatch(): void {
    const live = [...this.threads].filter((t) => t.state === 'idle' || t.state === 'busy');
    const idle = live.filter((t) => t.state === 'idle');
    for (let i = 0; i < idle.length && this.waiting.length > 0; i++) {
      this.send(idle[i]!, this.waiting.splice(0, Math.ceil(this.waiting.length / (idle.length - i))));
    }
    const fresh = this.waiting.filter((a) => !a.stuck);
    if (fresh.length > 0 && live.length > 0) {
      const least = live.reduce((a, b) => (unsettled(b) < unsettled(a) ? b : a));
      this.waiting.splice(0, this.waiting.length, ...this.waiting.filter((a) => a.stuck));
      this.send(least, fresh);
    }
    this.grow();
  }

  private send(thread: FunctionThread, attempts: Attempt[]): void {
    thread.state = 'busy';
    thread.worker.ref();
    const buffer = new SharedArrayBuffer(attempts.length * Int32Array.BYTES_PER_ELEMENT);
    const cells = new Int32Array(buffer);
    const now = performance.now();
    // A module no thread has loaded is compiled by this one: until then it warms up (see `grow`).
    if (attempts.some((a) => !this.loaded.has(moduleKey(a.o)))) thread.warming = true;
    const jobs: ThreadJob[] = attempts.map((a, i) => {
      Object.assign(a, { thread, cells, cell: i, sentAt: now });
      const { task } = a.o;
      return {
        id: a.id,
        task: { name: task.name, kind: task.kind, file: task.file, function: task.function, partitions: task.partitions },
        evaluation: a.o.evaluation,
        inputs: JSON.stringify(a.o.inputs ?? null),
        context: { ...a.o.context, runInputs: JSON.stringify(a.o.context.runInputs ?? null) },
        // One message fewer per attempt when nothing waits for it.
        tellStarted: a.o.timeoutMs !== null || !this.loaded.has(moduleKey(a.o)),
      };
    });
    thread.given.push(...attempts);
    thread.post({ type: 'run', jobs, cells: buffer });
    thread.steal ??= setTimeout(() => this.takeBack(thread), GROW_AFTER_MS);
  }

  private message(thread: FunctionThread, m: FromThread): void {
    if (m.type === 'ready') {
      this.idle(thread);
      this.dispatch();
      return;
    }
    const a = thread.given.find((b) => b.id === m.id);
    if (!a || a.settled) return; // From an attempt that has ended.
    if (m.type === 'log') return a.o.log(m.message);
    if (m.type === 'started') {
      this.loaded.add(moduleKey(a.o));
      if (thread.warming && thread.given.every((b) => b.settled || this.loaded.has(moduleKey(b.o)))) {
        this.warmed(thread);
        this.grow();
      }
      if (a.o.timeoutMs !== null) a.timer = setTimeout(() => this.stop(a, { kind: 'timeout' }), a.o.timeoutMs);
      return;
    }
    a.outcome =
      m.type === 'done'
        ? { result: JSON.parse(m.result) as JsonValue | null }
        : new AttemptFailure(m.failure.kind, m.failure.message, m.failure.context);
    this.settleResults(thread);
  }

  /**
   * Settles the thread's results in one go, as functions called in this thread one after the
   * other would end in one turn of the event loop: once every attempt given to it has its
   * outcome, or `HOLD_MS` after the first came in while one still runs.
   */
  private settleResults(thread: FunctionThread, now = false): void {
    const pending = thread.given.filter((a) => !a.settled);
    if (!now && pending.some((a) => !a.outcome)) {
      thread.hold ??= setTimeout(() => {
        thread.hold = undefined;
        this.settleResults(thread, true);
      }, HOLD_MS);
      return;
    }
    clearTimeout(thread.hold);
    thread.hold = undefined;
    for (const a of pending) if (a.outcome) a.settle(a.outcome);
    this.free(thread);
  }

  /** A thread with nothing left to do takes what waits. */
  private free(thread: FunctionThread): void {
    if (thread.state !== 'busy' || thread.given.some((a) => !a.settled)) return;
    thread.clearTimers();
    thread.given = [];
    this.idle(thread);
    this.dispatch();
  }

  private idle(thread: FunctionThread): void {
    thread.state = 'idle';
    // An idle thread does not keep the process alive (one that starts does, as one that is busy).
    thread.worker.unref();
    this.warmed(thread);
  }

  /** An attempt's timeout or cancel: withdrawn if it has not started, its thread terminated if it runs. */
  private stop(a: Attempt, ending: Ending): void {
    if (a.settled) return;
    const thread = a.thread;
    const notStarted = () => a.settle(new AttemptFailure('cancelled', 'cancelled before it started', {}));
    if (!thread) {
      const at = this.waiting.indexOf(a);
      if (at >= 0) this.waiting.splice(at, 1);
      return notStarted();
    }
    if (Atomics.compareExchange(a.cells!, a.cell!, CELL.QUEUED, CELL.WITHDRAWN) === CELL.QUEUED) {
      notStarted();
      return this.free(thread);
    }
    const failure = endedFailure(a.o.task, ending, a.o.timeoutMs, 'thread');
    if (Atomics.compareExchange(a.cells!, a.cell!, CELL.RUNNING, CELL.STOPPED) !== CELL.RUNNING) {
      // It has finished: its result is on its way. Too late for a timeout; a cancel still wins.
      if (ending.kind === 'cancelled') {
        a.settle(failure);
        this.free(thread);
      }
      return;
    }
    // ctx.signal first, for what it is worth; the thread is gone right after.
    thread.post({ type: 'abort', id: a.id, ending });
    thread.terminate(`it was terminated when task ${a.o.task.name} ${ending.kind === 'timeout' ? 'timed out' : 'was cancelled'}`);
    a.settle(failure);
    // What it had not started goes to another thread; results on their way are still taken (see `ended`).
    this.requeue(this.withdraw(thread, () => true));
    this.dispatch();
  }

  /** Takes back the attempts given to a thread that have not started (and that `which` picks): they never will there. */
  private withdraw(thread: FunctionThread, which: (a: Attempt) => boolean): Attempt[] {
    const back = thread.given.filter(
      (a) => !a.settled && which(a) && Atomics.compareExchange(a.cells!, a.cell!, CELL.QUEUED, CELL.WITHDRAWN) === CELL.QUEUED,
    );
    thread.given = thread.given.filter((a) => !back.includes(a));
    return back;
  }

  /** A thread that exited: what had not started waits for another thread, what was running failed with it. */
  private ended(thread: FunctionThread, why: string): void {
    this.threads.delete(thread);
    const back = this.withdraw(thread, () => true);
    for (const a of thread.given) {
      if (a.settled) continue;
      a.settle(a.outcome ?? new AttemptFailure('function', `task ${a.o.task.name} failed: its thread ended: ${why}`, { error: why }));
    }
    thread.given = [];
    this.warmed(thread);
    if (why.startsWith('could not start')) {
      // The next thread would fail alike: the attempts waiting now fail instead of waiting for ever.
      const failure = new AttemptFailure('function', `a thread for TypeScript tasks ${why}`, {});
      for (const a of this.waiting.splice(0)) a.settle(failure);
    }
    this.requeue(back);
    // Whatever waits may now get a thread (this one may have been warming up).
    this.dispatch();
  }

  /** Attempts that have waited `GROW_AFTER_MS` behind a busy one go back to wait for another thread. */
  private takeBack(thread: FunctionThread): void {
    thread.steal = undefined;
    if (thread.state !== 'busy') return;
    const due = performance.now() - GROW_AFTER_MS;
    // While the thread warms up, waiting behind it is waiting for the module, which another thread would have to load too.
    const back = thread.warming ? [] : this.withdraw(thread, (a) => a.sentAt! <= due);
    for (const a of back) a.stuck = true;
    if (thread.given.some((a) => !a.settled && Atomics.load(a.cells!, a.cell!) === CELL.QUEUED))
      thread.steal = setTimeout(() => this.takeBack(thread), GROW_AFTER_MS);
    this.requeue(back);
    this.free(thread);
    this.dispatch();
  }

  private requeue(back: Attempt[]): void {
    for (const a of back) {
      delete a.thread;
      delete a.cells;
      delete a.cell;
    }
    this.waiting.unshift(...back);
  }

  private warmed(t: FunctionThread): void {
    if (!t.warming) return;
    t.warming = false;
    this.warmSince = performance.now();
  }

  /**
   * Starts a thread when an attempt has waited `GROW_AFTER_MS` (at once when there is no thread)
   * and no thread is warming up.
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
      message: (t, m) => this.message(t, m),
      exit: (t, why) => this.ended(t, why),
    });
    this.threads.add(thread);
  }
}

function unsettled(t: FunctionThread): number {
  return t.given.filter((a) => !a.settled).length;
}

function moduleKey(o: ThreadAttemptOptions): string {
  return `${o.task.function!.module}\0${o.evaluation}`;
}

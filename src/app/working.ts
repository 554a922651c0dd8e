/**
 * Working jobs: the worker loop (`runtime/worker.ts`) wired to this project — its ledger, its
 * database (when the jobs need one), the definitions of each run's snapshot, TypeScript
 * functions (checked against the code a DAG's snapshot was taken of) and the settings.
 */
import { randomUUID } from 'node:crypto';
import { DuckorchError } from '../errors.js';
import { shortSnapshotId } from '../model/jobs/short-snapshot-id.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { FunctionRunner, RunEvent, WorkerOptions } from '../runtime/worker.js';
import { DEFAULT_PARTITION, type ClaimedJob, type DagSnapshot, type Snapshot } from '../store/ledger.js';
import type { ProjectContext } from './context.js';
import type { Definitions } from './definitions.js';

export interface WorkOptions {
  concurrency?: number;
  workerId?: string;
  /** Cancels in-flight jobs (they end `cancelled`). */
  signal?: AbortSignal;
  /** A polite stop: no new claims; in-flight jobs get `graceMs` to finish, then go back to the queue. */
  shutdown?: AbortSignal;
  graceMs?: number;
  /** Return once no job is in flight or waiting to run. */
  untilIdle?: boolean;
  /** How often an idle worker looks for work when nothing wakes it (the ledger's notifications do). */
  pollMs?: number;
  onEvent?: (event: RunEvent) => void;
  /** Worker log lines not about one job: the ledger's connection lost and back. */
  onNotice?: (message: string) => void;
}

/** Runs one attempt of a TypeScript function task: its module loaded (afresh when it changed), its function called. */
/** Most jobs a worker on a shared ledger claims ahead while its jobs are short (see `WorkerOptions.prefetch`). */
export const PREFETCH = 64;

export const runFunctionJob: FunctionRunner = async ({ job, task, inputs, instance, timeoutMs, signal, log, commit }) => {
  const context = {
    runId: job.runId,
    jobId: job.id,
    attempt: job.attempts,
    partitionKey: job.partitionKey === DEFAULT_PARTITION ? null : job.partitionKey,
    runInputs: job.runInputs,
  };
  if (task.function && task.function.dag !== null && task.function.isolation !== 'inline') {
    // A Dag task runs in a thread that its timeout terminates.
    const { runInDagThread } = await import('./dag-threads.js');
    return { result: (await runInDagThread({ task, inputs, context, timeoutMs, signal, log })).result, committed: false };
  }
  const [{ resolveTaskFunction }, { runFunctionAttempt }, { AttemptFailure }] = await Promise.all([
    import('./task-modules.js'),
    import('../runtime/function-task.js'),
    import('../runtime/attempt-failure.js'),
  ]);
  let fn;
  try {
    fn = await resolveTaskFunction(task);
  } catch (err) {
    // The module changed or went away since the run was planned: retrying will not bring it back.
    throw new AttemptFailure('definition', err instanceof Error ? err.message : String(err), {});
  }
  let committed = false;
  const { result } = await runFunctionAttempt({
    task,
    fn,
    inputs,
    context,
    instance,
    timeoutMs,
    signal,
    log,
    commit: async (outcome, tx) => {
      await commit(outcome.result, tx);
      committed = true;
    },
  });
  return { result, committed };
};

/** The settings a worker loop takes from the config: leases, retries, timeouts. */
export function workerSettings(config: ProjectContext['config']) {
  return {
    leaseMs: config.orch_lease * 1000,
    ...(config.orch_task_timeout !== undefined ? { defaultTimeoutMs: config.orch_task_timeout * 1000 } : {}),
    ...(config.orch_max_attempts !== undefined ? { maxAttempts: config.orch_max_attempts } : {}),
    retry: { baseMs: config.orch_retry_base * 1000, maxMs: config.orch_retry_max * 1000 },
  };
}

export class Working {
  /** The code versions of a DAG's tasks in the module as it is on this machine now, by module:export. */
  private readonly deployed = new Map<string, Promise<Map<string, string>>>();

  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
  ) {}

  /** What every worker loop of this project shares; `options` are the caller's (cancel, events, full refresh). */
  async base(
    concurrency: number,
    options: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void; fullRefresh?: boolean },
  ): Promise<Omit<WorkerOptions, 'workerId' | 'definition'>> {
    const functions: FunctionRunner = async (attempt) => {
      await this.requireSnapshotCode(attempt.job, attempt.task);
      return runFunctionJob(attempt);
    };
    // A DAG's tasks on a shared ledger touch no database: such a worker opens none.
    const needsDatabase = !(this.ctx.sharedLedger && this.definitions.dag !== undefined);
    const instance = needsDatabase ? (await this.ctx.database()).instance : undefined;
    return {
      functions,
      ledger: await this.ctx.ledger(),
      ...(instance ? { instance } : {}),
      concurrency,
      // A ledger a round trip away: the next jobs at hand while completions and claims travel.
      ...(this.ctx.sharedLedger ? { prefetch: PREFETCH } : {}),
      ...workerSettings(this.ctx.config),
      clock: this.ctx.clock,
      random: this.ctx.random,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.fullRefresh ? { fullRefresh: true } : {}),
    };
  }

  /** Works queued runs until `shutdown` (or, with `untilIdle`, until nothing is left to do). */
  async work(options: WorkOptions): Promise<void> {
    const source = this.definitions.dag !== undefined ? await this.definitions.dagSource() : undefined;
    // A DAG by name runs the code of its snapshots: refuse to start on code that is not the active snapshot's.
    if (source?.kind === 'name') await this.checkDeployedCode(source.active, source.snapshot);
    const { work } = await import('../runtime/worker.js');
    await work({
      ...(await this.base(options.concurrency ?? this.ctx.config.orch_max_parallel, options)),
      workerId: options.workerId ?? `worker-${process.pid}-${randomUUID().slice(0, 8)}`,
      definition: async (job) => {
        // By name, every run has its own snapshot; the current one says nothing about older runs.
        // The registry is read as it is now: a task removed by a `register` meanwhile is skipped.
        if (source?.kind !== 'name' && !(await this.definitions.currentNames()).has(job.task))
          return { missing: `task \`${job.task}\` was removed from the project after the run was planned` };
        return (
          (await this.definitions.snapshots.task(job.snapshotId, job.task)) ?? {
            missing: `task \`${job.task}\` is not in the run's snapshot`,
          }
        );
      },
      ...(options.shutdown ? { shutdown: options.shutdown } : {}),
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(options.untilIdle ? { untilIdle: true } : {}),
      ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
      // A worker for one --dag leaves other DAGs' jobs to their own workers, and a worker of the
      // registry leaves every DAG's jobs alone.
      dag: source ? source.name : null,
    });
  }

  private deployedVersions(module: string, exportName: string): Promise<Map<string, string>> {
    const spec = `${module}:${exportName}`;
    let found = this.deployed.get(spec);
    if (!found) {
      found = import('./task-modules.js').then(async ({ loadDagSpec }) => {
        const defs = await loadDagSpec(spec, process.cwd());
        return new Map(defs.map((d) => [d.name, d.codeVersion]));
      });
      this.deployed.set(spec, found);
    }
    return found;
  }

  /** Fails when the code a DAG's active snapshot was taken of is not the code on this machine. */
  private async checkDeployedCode(active: DagSnapshot, snapshot: Snapshot): Promise<void> {
    const here = await this.deployedVersions(active.module, active.exportName);
    const names = new Set([...here.keys(), ...snapshot.tasks.keys()]);
    const differ = [...names].filter((n) => here.get(n) !== snapshot.tasks.get(n)?.definition.codeVersion).sort();
    if (differ.length === 0) return;
    throw new DuckorchError(
      'SNAPSHOT_MISMATCH',
      `the code of DAG \`${active.dag}\` in ${active.module} is not its active snapshot ${shortSnapshotId(active.snapshotId)} ` +
        `(tasks that differ: ${differ.join(', ')})`,
      {
        hint: `deploy the code the snapshot was taken of, or activate this code: duck-orch snapshot --activate --dag ${active.module}:${active.exportName}`,
      },
    );
  }

  /** By DAG name a run is bound to its snapshot's code: code that changed since is not run in its place. */
  private async requireSnapshotCode(job: ClaimedJob, task: TaskDefinition): Promise<void> {
    if (this.definitions.dag === undefined || !task.function || (await this.definitions.dagSource()).kind !== 'name') return;
    const here = (await this.deployedVersions(task.function.module, task.function.exportName)).get(task.name);
    if (here === task.codeVersion) return;
    const { AttemptFailure } = await import('../runtime/attempt-failure.js');
    throw new AttemptFailure(
      'definition',
      `the code of task \`${task.name}\` in ${task.function.module} is not the code of this run's snapshot ` +
        `${shortSnapshotId(job.snapshotId)}; deploy that code and \`duck-orch retry-dead\`, or enqueue a new run`,
      {},
    );
  }
}

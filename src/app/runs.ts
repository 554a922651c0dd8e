/**
 * Runs: planning one from a selection (bound to a snapshot of the definitions) and enqueueing it,
 * working it in this process (`run`), retrying what failed, requeueing across runs (Orchex's
 * `retry-*`), cancelling, and working a run another process handed over (`runForOther`).
 */
import { randomUUID } from 'node:crypto';
import { DuckorchError } from '../errors.js';
import { jobLabel, type JobState } from '../model/jobs/job-state.js';
import { compareText } from '../model/names.js';
import { writesDatabase } from '../model/taskfile/task.js';
import type { RunEvent } from '../runtime/worker.js';
import { duplicateRun, type JobRecord, type JsonValue, type RequeuedJob, type RunMetadata, type RunRecord } from '../store/ledger.js';
import type { ProjectContext } from './context.js';
import { describeSelection, type Definitions, type Registry, type Selection } from './definitions.js';
import { intervalSpecOf } from '../model/intervals.js';
import { intervalJobs } from './intervals.js';
import { planRunPartitions, type PlannedJob } from './partition-plan.js';
import { staleFiles } from './stale-files.js';
import type { Working } from './working.js';

export interface RunResult {
  /** Null when the selection was empty: nothing ran and no run was recorded. */
  run: RunRecord | null;
  /** The run's jobs, in the selection's order. */
  jobs: JobRecord[];
  warnings: string[];
}

export interface RunOptions extends Selection {
  /** `--partition`: build this partition of the selected partitioned tasks. */
  partition?: string;
  maxParallel?: number;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Called once the selection is known, before the first task starts. */
  onPlan?: (tasks: readonly string[]) => void;
  /** `--full-refresh`: incremental tasks start from the beginning instead of their recorded watermark. */
  fullRefresh?: boolean;
}

export interface EnqueueOptions extends Selection {
  partition?: string;
  inputs?: JsonValue;
  metadata?: RunMetadata;
  runId?: string;
}

export interface RequeueFilter {
  task?: string;
  /** Only jobs that ended in this last while, or (`since`) at or after this time. */
  withinSeconds?: number;
  since?: Date;
  minAttempts?: number;
  /** List the jobs it would requeue; change nothing. */
  dryRun?: boolean;
}

/** The states of a run's jobs that `retry-failed` puts back to pending. */
const RETRYABLE: readonly JobState[] = ['failed', 'dead', 'blocked', 'skipped', 'cancelled'];

/** `enqueue --run-id`: a UUID, written in lower case. */
export const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class Runs {
  private holds = 0;

  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
    private readonly working: Working,
  ) {}

  /** Runs the selected tasks. A selection that is valid but empty runs nothing and records no run (as dbt does). */
  async run(options: RunOptions = {}): Promise<RunResult> {
    await this.databaseFree();
    const planned = await this.plan(options, 'run', null);
    if (!planned.run) return { run: null, jobs: [], warnings: planned.warnings };
    options.onPlan?.(planned.run.tasks);
    return { ...(await this.workRun(planned.run, options)), warnings: planned.warnings };
  }

  /** Creates a run of the selection without working it: `duck-orch worker` (or `run`'s own worker) picks it up. */
  async enqueue(options: EnqueueOptions = {}): Promise<{ run: RunRecord | null; warnings: string[] }> {
    if (options.runId !== undefined && !RUN_ID.test(options.runId))
      throw new DuckorchError('USAGE', `--run-id must be a UUID, got \`${options.runId}\``, {
        expected: 'a UUID such as 2f1c9a4e-8b7d-4c3e-9f10-5a6b7c8d9e0f',
      });
    const runId = options.runId?.toLowerCase();
    if (runId !== undefined && (await (await this.ctx.ledger()).getRun(runId))) throw duplicateRun(runId);
    return this.plan(options, 'enqueue', options.inputs ?? null, {
      ...(runId !== undefined ? { runId } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    });
  }

  /** Saves the snapshot of the current definitions and enqueues a run of the selection on it. */
  private async plan(
    options: Selection & { partition?: string },
    trigger: string,
    inputs: JsonValue,
    extra: { runId?: string; metadata?: RunMetadata } = {},
  ): Promise<{ run: RunRecord | null; warnings: string[] }> {
    const registry = await this.definitions.select(options);
    const { tasks, selected, warnings } = registry;
    if (selected.length === 0) return { run: null, warnings };
    const byName = new Map(tasks.map((t) => [t.definition.name, t.definition]));
    const now = this.ctx.clock();
    // Interval tasks run their batches of unprocessed intervals; the others as partitions say.
    const batches = new Map<string, PlannedJob[]>();
    for (const name of selected) {
      const task = byName.get(name)!;
      if (intervalSpecOf(task)) batches.set(name, await intervalJobs(this.ctx, task, now));
    }
    const others = selected.filter((n) => !batches.has(n));
    const planned = others.length
      ? planRunPartitions(others, byName, options.partition, now, (options.select?.length ?? 0) > 0)
      : { jobs: [], warnings: [] };
    warnings.push(...planned.warnings);
    // Built without their partitioned upstream: they read what its partitions hold so far.
    const plannedTasks = new Set(planned.jobs.map((j) => j.task));
    const leftOut = new Set(others.filter((n) => !plannedTasks.has(n)));
    const readers = [...plannedTasks].filter((n) => [...registry.graph.upstreamOf(n)].some((u) => leftOut.has(u)));
    if (readers.length)
      warnings.push(
        `${readers.join(', ')} ${readers.length === 1 ? 'reads' : 'read'} a partitioned task left out (${[...leftOut].join(', ')}): ` +
          'built on what its partitions hold so far (backfill them first, or run --stale to build what is stale)',
      );
    const upToDate = [...batches].filter(([, jobs]) => jobs.length === 0).map(([n]) => n);
    if (upToDate.length) warnings.push(`${upToDate.join(', ')}: every interval due is processed; nothing to run`);
    const jobs = selected.flatMap((n) => batches.get(n) ?? planned.jobs.filter((j) => j.task === n));
    if (jobs.length === 0) return { run: null, warnings };
    const selector = [describeSelection(options), options.partition !== undefined ? `--partition ${options.partition}` : null]
      .filter((x) => x !== null)
      .join(' ');
    const run = await this.enqueuePlanned(registry, jobs, { trigger, selector: selector || null, inputs, ...extra }, warnings);
    return { run, warnings };
  }

  /**
   * Enqueues a run of planned jobs on the snapshot of the current definitions: each waits for the
   * jobs of the run of its upstream tasks (in its partition; see the ledgers' dependency rule).
   */
  async enqueuePlanned(
    { tasks, graph }: Registry,
    jobs: readonly PlannedJob[],
    fields: { trigger: string; selector: string | null; inputs: JsonValue; runId?: string; metadata?: RunMetadata },
    warnings: string[],
  ): Promise<RunRecord> {
    const byName = new Map(tasks.map((t) => [t.definition.name, t.definition]));
    const chosen = new Set(jobs.map((j) => j.task));
    const source = this.definitions.dag !== undefined ? await this.definitions.dagSource() : undefined;
    if (source?.kind !== 'name') warnings.push(...staleFiles(tasks.filter((t) => chosen.has(t.definition.name))));
    // A DAG by name runs its active snapshot as stored (its definitions read back need not hash the same).
    const snapshot = source?.kind === 'name' ? source.snapshot : await this.definitions.registrySnapshot({ tasks, graph });
    this.definitions.snapshots.add(snapshot);
    // A shared ledger gives a database's jobs only to the worker that holds it: they carry its id,
    // as does a run of the registry (whose definitions are that database's).
    const writers = [...chosen].some((name) => writesDatabase(byName.get(name)!));
    const databaseId = writers || !source ? (await this.ctx.database()).store.databaseId : undefined;
    const upstream = new Map([...chosen].map((name) => [name, [...graph.upstreamOf(name)].filter((u) => chosen.has(u)).sort()]));
    return (await this.ctx.ledger()).enqueueRun(
      {
        id: fields.runId ?? randomUUID(),
        snapshotId: snapshot.id,
        trigger: fields.trigger,
        selector: fields.selector,
        inputs: fields.inputs,
        jobs: jobs.map(({ task, partitionKey }) => ({
          task,
          ...(partitionKey !== undefined ? { partitionKey } : {}),
          upstream: upstream.get(task)!,
          maxAttempts: this.definitions.maxAttempts(byName.get(task)!),
          ...(writesDatabase(byName.get(task)!) ? { database: databaseId! } : {}),
        })),
        ...(source ? { dag: source.name } : { database: databaseId! }),
        ...(fields.metadata ? { metadata: fields.metadata } : {}),
      },
      this.ctx.clock(),
    );
  }

  /**
   * Puts every job of a run (by default the latest) that ended dead, failed, blocked, skipped or
   * cancelled back to pending, on the current definitions, and works the run again; jobs that
   * succeeded are not re-run (dbt's `retry`).
   */
  async retryFailed(options: Omit<RunOptions, keyof Selection> & { runId?: string } = {}): Promise<RunResult & { retried: number }> {
    const ledger = await this.ctx.ledger();
    await this.databaseFree();
    const target = options.runId !== undefined ? await this.resolveRun(options.runId) : (await ledger.listRuns(1))[0];
    if (!target) throw new DuckorchError('UNKNOWN_NAME', 'there is no run to retry yet', { hint: 'start one with: duck-orch run' });
    // Nothing to retry changes nothing: not the run's snapshot, not when it finished.
    const depth = await ledger.queueDepth({ runId: target.id });
    if (!RETRYABLE.some((state) => (depth[state] ?? 0) > 0)) return { ...(await this.outcome(target.id)), warnings: [], retried: 0 };
    const snapshot = await this.definitions.registrySnapshot(await this.definitions.requireRegistry());
    const retried = await ledger.retryRun(target.id, this.ctx.clock(), snapshot.id);
    const run = (await ledger.getRun(target.id))!;
    options.onPlan?.(run.tasks);
    return { ...(await this.workRun(run, options)), warnings: [], retried };
  }

  /**
   * Requeues dead or failed jobs across runs, attempts reset (Orchex's `retry-dead` /
   * `retry-failed`); a worker then works them. Returns them by run and task (`dryRun`: those it
   * would requeue, nothing changed).
   */
  async requeue(state: 'dead' | 'failed', filter: RequeueFilter): Promise<RequeuedJob[]> {
    const now = this.ctx.clock();
    const since = filter.since ?? (filter.withinSeconds !== undefined ? new Date(now.getTime() - filter.withinSeconds * 1000) : undefined);
    const { dag } = await this.definitions.scope();
    const ledger = await this.ctx.ledger();
    const jobs = await ledger.retryJobs(
      {
        states: [state],
        ...(filter.task !== undefined ? { task: filter.task } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(filter.minAttempts !== undefined ? { minAttempts: filter.minAttempts } : {}),
        ...(dag !== undefined ? { dag } : {}),
        ...(filter.dryRun ? { dryRun: true } : {}),
      },
      now,
    );
    return jobs.sort((a, b) => compareText(a.runId, b.runId) || compareText(a.task, b.task) || compareText(a.partitionKey, b.partitionKey));
  }

  /** Cancels a run's unfinished jobs; those in flight stop at their worker's next heartbeat. */
  async cancel(runId: string): Promise<{ run: RunRecord; cancelled: number; stopping: number }> {
    const ledger = await this.ctx.ledger();
    const run = await this.resolveRun(runId);
    const cancelled = await ledger.cancelRun(run.id, 'cancelled by the user', this.ctx.clock());
    return {
      run: (await ledger.getRun(run.id))!,
      cancelled: cancelled.length,
      stopping: cancelled.filter((j) => j.state === 'processing').length,
    };
  }

  /** A run by id or by a unique prefix of it (the summary shows 8 characters). */
  async resolveRun(idOrPrefix: string): Promise<RunRecord> {
    const ledger = await this.ctx.ledger();
    const found = await ledger.findRuns(idOrPrefix, 2);
    if (found.length === 1) return found[0]!;
    if (found.length > 1)
      throw new DuckorchError('UNKNOWN_NAME', `\`${idOrPrefix}\` matches more than one run`, {
        hint: 'give more characters of the run id',
      });
    const recent = (await ledger.listRuns(5)).map((r) => `${r.id.slice(0, 8)} (${r.state}, ${r.createdAt.toISOString()})`);
    throw new DuckorchError('UNKNOWN_NAME', `unknown run \`${idOrPrefix}\``, {
      hint: recent.length ? `recent runs: ${recent.join(', ')}` : 'no run has been recorded yet',
    });
  }

  /** Works one run in-process until nothing of it is left to do; a cancelled run cancels what never started. */
  async workRun(run: RunRecord, options: Omit<RunOptions, keyof Selection>): Promise<Omit<RunResult, 'warnings'>> {
    const ledger = await this.ctx.ledger();
    const { work } = await import('../runtime/worker.js');
    const base = await this.working.base(options.maxParallel ?? this.ctx.config.orch_max_parallel, options);
    await this.holdingDatabase(() =>
      work({
        ...base,
        workerId: `run-${process.pid}-${run.id.slice(0, 8)}`,
        definition: async (job) =>
          (await this.definitions.snapshots.task(job.snapshotId, job.task)) ?? {
            missing: `task \`${job.task}\` is not in the run's snapshot`,
          },
        runId: run.id,
      }),
    );
    if (options.signal?.aborted) {
      // Tasks that never started are cancelled too, and say so.
      for (const job of await ledger.cancelRun(run.id, 'the run was cancelled before it started', this.ctx.clock()))
        options.onEvent?.({ type: 'skip', task: jobLabel(job), job });
    }
    return this.outcome(run.id);
  }

  /** Fails, before anything is planned, when a worker elsewhere holds the database (see `holdingDatabase`). */
  async databaseFree(): Promise<void> {
    await this.holdingDatabase(async () => undefined);
  }

  /**
   * With a shared ledger, a `run` works its database's jobs itself: it holds the database's lease
   * meanwhile, as a worker does, so that no worker elsewhere writes the file at the same time.
   */
  private async holdingDatabase<T>(fn: () => Promise<T>): Promise<T> {
    // A worker's project is opened by the lease it holds (`database-lease.ts`); a DAG's tasks
    // touch no database, so its runs need neither the lease nor the file.
    if (!this.ctx.sharedLedger || this.ctx.options.sharedLedger || this.definitions.dag !== undefined) return fn();
    const ledger = await this.ctx.ledger();
    const id = (await this.ctx.database()).store.databaseId;
    const holder = `run-${process.pid}`;
    const leaseMs = this.ctx.config.orch_lease * 1000;
    const lease = await ledger.holdDatabase(id, holder, leaseMs, this.ctx.clock());
    if (lease.worker !== holder)
      throw new DuckorchError(
        'DB_LOCKED',
        `database ${this.ctx.dbFile} is held by worker ${lease.worker} (its lease on the shared ledger runs until ${lease.expiresAt.toISOString()})`,
        {
          hint: 'that worker works the queued runs: `duck-orch enqueue` queues one for it; or stop it and run again',
        },
      );
    this.holds++;
    const renew = setInterval(() => void ledger.holdDatabase(id, holder, leaseMs, this.ctx.clock()).catch(() => undefined), leaseMs / 3);
    renew.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      if (--this.holds === 0) await ledger.releaseDatabase(id, holder).catch(() => undefined);
    }
  }

  /** A run and its jobs in plan order, as written. */
  private async outcome(runId: string): Promise<Omit<RunResult, 'warnings'>> {
    const ledger = await this.ctx.ledger();
    await ledger.flush();
    const run = (await ledger.getRun(runId))!;
    const order = new Map(run.tasks.map((n, i) => [n, i]));
    const total = Object.values(run.counts).reduce((n, c) => n + (c ?? 0), 0);
    const jobs = (await ledger.listJobs({ runId, limit: Math.max(1, total) })).sort(
      (a, b) => (order.get(a.task) ?? 0) - (order.get(b.task) ?? 0) || compareText(a.partitionKey, b.partitionKey),
    );
    return { run, jobs };
  }

  /**
   * A run asked for by another process while this one holds the database (see
   * `remote/socket.ts`): planned here, worked by a loop of its own (`workHere`, in a `run`) or
   * by this process's worker, and returned once done.
   */
  async runForOther(options: Omit<RunOptions, 'signal' | 'onEvent' | 'onPlan'>, workHere: boolean): Promise<RunResult> {
    const planned = await this.plan(options, 'run', null);
    if (!planned.run) return { run: null, jobs: [], warnings: planned.warnings };
    if (workHere) return { ...(await this.workRun(planned.run, options)), warnings: planned.warnings };
    const ledger = await this.ctx.ledger();
    for (;;) {
      const run = await ledger.getRun(planned.run.id);
      if (!run || run.finishedAt !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { ...(await this.outcome(planned.run.id)), warnings: planned.warnings };
  }
}

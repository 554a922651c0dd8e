/**
 * Backfills: one run with a job per task × partition of the named assets, worked by this
 * process's worker (and any `worker` process on the same ledger), or only enqueued. The same
 * backfill started again after Ctrl-C, a crash or a failure resumes its run: what succeeded stays
 * done, the rest runs. `--missing` takes what has no successful materialisation.
 */
import type { RunRecord } from '../store/ledger.js';
import { assetsOf } from '../model/assets.js';
import type { ProjectContext } from './context.js';
import type { Definitions, Selection } from './definitions.js';
import { DuckorchError } from '../errors.js';
import { intervalSpecOf } from '../model/intervals.js';
import { isValidDate } from '../model/partitions/definition.js';
import { forgetIntervals, instantOf, intervalJobs } from './intervals.js';
import { settledPartitions } from './partition-states.js';
import { backfillSet, resolveAssets, type BackfillSpec, type PlannedJob } from './partition-plan.js';
import type { RunOptions, RunResult, Runs } from './runs.js';

export interface BackfillOptions extends BackfillSpec, Omit<RunOptions, keyof Selection | 'partition'> {
  /** Asset names (or task names). */
  assets: readonly string[];
  /** Only partitions without a successful materialisation. */
  missing?: boolean;
  /** Enqueue the run and return: `worker` processes work it. */
  enqueueOnly?: boolean;
}

export interface BackfillResult extends RunResult {
  /** Partitions planned (jobs of the run). */
  planned: number;
  /** The run resumed, when this backfill was started before and did not finish. */
  resumed: boolean;
}

const DAY_MS = 86_400_000;

/** Runs recent enough to look through for a backfill to resume. */
const RESUME_LOOKBACK = 50;

export class Backfills {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
    private readonly runs: Runs,
  ) {}

  async backfill(options: BackfillOptions, restating = false): Promise<BackfillResult> {
    await this.runs.databaseFree();
    const registry = await this.definitions.requireRegistry();
    const definitions = registry.tasks.map((t) => t.definition);
    const named = resolveAssets(options.assets, definitions);
    const order = new Map(
      registry.graph
        .layers(new Set(named.map((t) => t.name)))
        .flat()
        .map((n, i) => [n, i]),
    );
    const tasks = [...new Map(named.map((t) => [t.name, t])).values()].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
    const now = this.ctx.clock();
    const ledger = await this.ctx.ledger();
    const trigger = restating ? 'restate' : 'backfill';
    const selector = describeBackfill(options);
    const previous = restating
      ? undefined
      : (await ledger.listRuns(RESUME_LOOKBACK)).find((r) => r.trigger === trigger && r.selector === selector);
    if (previous && previous.state !== 'succeeded') return this.resume(previous, options);

    const jobs: PlannedJob[] = [];
    for (const task of tasks) {
      if (restating && intervalSpecOf(task)) {
        // An interval task forgets what it processed in the range (days given as dates are whole), then fills it again.
        const from = instantOf('--from', options.from!);
        const to = instantOf('--to', options.to!) + (isValidDate(options.to!.trim()) ? DAY_MS : 0);
        // The same error (and exit code) as a partitioned asset's range.
        if (to <= from) throw new DuckorchError('PARTITION', `--from ${options.from} is after --to ${options.to}`);
        await forgetIntervals(this.ctx, task, from, to);
        jobs.push(...(await intervalJobs(this.ctx, task, now, { from, to })));
        continue;
      }
      const { space, set: asked } = backfillSet(task, options, now);
      let set = asked;
      // What never succeeded: by arithmetic on the asset's settled ranges.
      if (options.missing) set = set.minus((await settledPartitions(this.ctx, assetsOf(task)[0] ?? task.name, task.partitions!)).succeeded);
      for (const i of set.indices()) jobs.push({ task: task.name, partitionKey: space.keyAt(i) });
    }
    const warnings: string[] = [];
    if (jobs.length === 0) {
      warnings.push(
        options.missing
          ? `nothing to ${trigger}: every partition asked for has been materialised`
          : `nothing to ${trigger}: no partition in that range exists yet`,
      );
      return { run: null, jobs: [], warnings, planned: 0, resumed: false };
    }
    const run = await this.runs.enqueuePlanned(registry, jobs, { trigger, selector, inputs: null }, warnings);
    if (options.enqueueOnly) return { run, jobs: [], warnings, planned: jobs.length, resumed: false };
    options.onPlan?.(jobs.map((j) => j.task));
    return { ...(await this.runs.workRun(run, options)), warnings, planned: jobs.length, resumed: false };
  }

  /**
   * `restate`: builds a range again. An interval task forgets what it processed in the range and
   * processes it anew; a partitioned asset's partitions in the range are built again (a backfill
   * that never resumes an earlier one).
   */
  restate(options: BackfillOptions & { from: string; to: string }): Promise<BackfillResult> {
    return this.backfill(options, true);
  }

  /** Works an unfinished backfill again: its unfinished jobs as they are, its failed or cancelled ones anew. */
  private async resume(run: RunRecord, options: BackfillOptions): Promise<BackfillResult> {
    const planned = Object.values(run.counts).reduce((a, b) => a + (b ?? 0), 0);
    const done = run.counts.succeeded ?? 0;
    const warnings = [`resuming backfill run ${run.id.slice(0, 8)} (${done} of ${planned} partitions done)`];
    const ledger = await this.ctx.ledger();
    if (run.finishedAt !== null) {
      const snapshot = await this.definitions.registrySnapshot(await this.definitions.requireRegistry());
      await ledger.retryRun(run.id, this.ctx.clock(), snapshot.id);
    }
    const current = (await ledger.getRun(run.id))!;
    if (options.enqueueOnly) return { run: current, jobs: [], warnings, planned, resumed: true };
    options.onPlan?.(Array.from({ length: planned - done }, () => ''));
    return { ...(await this.runs.workRun(current, options)), warnings, planned, resumed: true };
  }
}

/** The backfill as the user asked for it: what a later, identical request resumes. */
export function describeBackfill(o: BackfillOptions): string {
  return [
    o.assets.join(' '),
    o.from !== undefined ? `--from ${o.from}` : '',
    o.to !== undefined ? `--to ${o.to}` : '',
    ...(o.partitions ?? []).map((p) => `--partition ${p}`),
    ...(o.where ?? []).map((w) => `--where ${w}`),
    o.missing ? '--missing' : '',
  ]
    .filter((x) => x !== '')
    .join(' ');
}

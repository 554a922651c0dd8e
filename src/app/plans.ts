/**
 * `plan` and `run --stale`: what is stale and why, before running (SQLMesh's plan, Dagster's
 * "unsynced"), and a run of exactly that. One read of the ledger's latest state per asset ×
 * partition; the rest is arithmetic over the definitions (see `model/staleness.ts`).
 */
import { deriveAssets } from '../model/assets.js';
import { intervalSpecOf } from '../model/intervals.js';
import { DEFAULT_PARTITION, type PartitionState } from '../store/ledger.js';
import { intervalJobs } from './intervals.js';
import { partitionSpace } from '../model/partitions/space.js';
import { describeReason, staleAssets, type LatestState, type StaleAsset, type StalenessAsset } from '../model/staleness.js';
import type { ProjectContext } from './context.js';
import { describeSelection, type Definitions, type Registry, type Selection } from './definitions.js';
import type { PlannedJob } from './partition-plan.js';
import type { RunOptions, RunResult, Runs } from './runs.js';

/** How many stale partitions of an asset a plan names (the rest are counted). */
const KEYS_NAMED = 10;

/** One stale asset as the plan reports it: plain data. */
export interface PlannedAsset {
  asset: string;
  task: string;
  reasons: Array<{ kind: string; text: string; upstream?: string }>;
  /** Partitioned: how many of how many partitions are stale, by reason, and the first stale keys. */
  partitions: { stale: number; total: number; counts: Record<string, number>; keys: string[] } | null;
  /** Stale assets it rebuilds downstream. */
  downstream: string[];
}

export class Plans {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
    private readonly runs: Runs,
  ) {}

  /** The stale assets (of the selected tasks, with a selection), upstream first. */
  async plan(selection: Selection = {}): Promise<{ assets: PlannedAsset[]; warnings: string[] }> {
    const registry = await this.definitions.select(selection);
    const { stale, byAsset } = await this.compute(registry);
    const chosen = new Set(registry.selected);
    const assets = stale
      .filter((s) => chosen.has(byAsset.get(s.name)!.task))
      .map((s) => {
        const a = byAsset.get(s.name)!;
        return {
          asset: s.name,
          task: a.task,
          reasons: s.reasons.map((r) => ({ kind: r.kind, text: describeReason(r), ...('upstream' in r ? { upstream: r.upstream } : {}) })),
          partitions: s.partitions
            ? {
                stale: s.partitions.stale.size,
                total: s.partitions.total,
                counts: s.partitions.counts as Record<string, number>,
                keys: [...s.partitions.stale.indices(KEYS_NAMED)].map((i) => a.asset.partitions!.keyAt(i)),
              }
            : null,
          downstream: s.downstream,
        };
      });
    return { assets, warnings: registry.warnings };
  }

  /** Runs exactly what `plan` lists: each stale asset's task, once, and each stale partition of a partitioned one. */
  async runStale(options: Omit<RunOptions, 'partition'>): Promise<RunResult> {
    await this.runs.databaseFree();
    const registry = await this.definitions.select(options);
    const { stale, byAsset } = await this.compute(registry);
    const chosen = new Set(registry.selected);
    const order = new Map(registry.selected.map((n, i) => [n, i]));
    const jobs = new Map<string, PlannedJob>();
    const defs = new Map(registry.tasks.map((t) => [t.definition.name, t.definition]));
    const now = this.ctx.clock();
    const ledger = await this.ctx.ledger();
    // What a run already queued or working will build is not planned twice: one read of which
    // tasks have jobs in flight, their keys read only for those.
    const inFlightCounts = await ledger.inFlightCounts();
    let alreadyQueued = 0;
    for (const s of stale) {
      const a = byAsset.get(s.name)!;
      if (!chosen.has(a.task)) continue;
      const task = defs.get(a.task)!;
      // An interval task runs what is due of its intervals.
      if (intervalSpecOf(task)) {
        for (const j of await intervalJobs(this.ctx, task, now)) jobs.set(`${j.task}\0${j.partitionKey}`, j);
        continue;
      }
      const inFlight = new Set(inFlightCounts.has(a.task) ? await ledger.inFlightPartitions(a.task) : []);
      if (!s.partitions) {
        if (inFlight.has(DEFAULT_PARTITION)) alreadyQueued++;
        else jobs.set(`${a.task}\0`, { task: a.task });
      } else
        for (const i of s.partitions.stale.indices()) {
          const key = a.asset.partitions!.keyAt(i);
          if (inFlight.has(key)) alreadyQueued++;
          else jobs.set(`${a.task}\0${key}`, { task: a.task, partitionKey: key });
        }
    }
    const warnings = [...registry.warnings];
    if (alreadyQueued > 0)
      warnings.push(`left out ${alreadyQueued} stale ${alreadyQueued === 1 ? 'job' : 'jobs'} already queued or running`);
    if (jobs.size === 0) {
      warnings.push(
        alreadyQueued > 0 ? 'nothing to run: what is stale is queued or running already' : 'nothing is stale: every asset is up to date',
      );
      return { run: null, jobs: [], warnings };
    }
    const planned = [...jobs.values()].sort((x, y) => order.get(x.task)! - order.get(y.task)!);
    const selector = ['--stale', describeSelection(options)].filter((x) => x !== null).join(' ');
    const run = await this.runs.enqueuePlanned(registry, planned, { trigger: 'run', selector, inputs: null }, warnings);
    options.onPlan?.(planned.map((j) => j.task));
    return { ...(await this.runs.workRun(run, options)), warnings };
  }

  private async compute(
    registry: Registry,
  ): Promise<{ stale: StaleAsset[]; byAsset: Map<string, { task: string; asset: StalenessAsset }> }> {
    const defs = registry.tasks.map((t) => t.definition);
    const byTask = new Map(defs.map((d) => [d.name, d]));
    const { assets, edges } = deriveAssets(defs);
    const upstream = new Map<string, string[]>();
    for (const e of edges) upstream.set(e.downstream, [...(upstream.get(e.downstream) ?? []), e.upstream]);
    // Upstream first: assets in the order of their tasks in the graph.
    const taskOrder = new Map(
      registry.graph
        .layers(new Set(defs.map((d) => d.name)))
        .flat()
        .map((n, i) => [n, i]),
    );
    const ordered = [...assets].sort((a, b) => taskOrder.get(a.definedByTask)! - taskOrder.get(b.definedByTask)!);
    const byAsset = new Map<string, { task: string; asset: StalenessAsset }>();
    const input: StalenessAsset[] = ordered.map((a) => {
      const task = byTask.get(a.definedByTask)!;
      const asset: StalenessAsset = {
        name: a.name,
        codeVersion: a.codeVersion,
        upstream: [...new Set(upstream.get(a.name) ?? [])],
        partitions: task.partitions ? partitionSpace(task.partitions) : null,
        partitionsKey: task.partitions ? JSON.stringify(task.partitions) : null,
      };
      byAsset.set(a.name, { task: task.name, asset });
      return asset;
    });
    const states = new Map<string, Array<LatestState & Pick<PartitionState, 'at'>>>();
    for (const s of await (await this.ctx.ledger()).assetStates()) {
      const list = states.get(s.name);
      if (list) list.push(s);
      else states.set(s.name, [s]);
    }
    // An interval task's batches are its materialisations: its state is its latest batch's.
    for (const a of input) {
      const task = byTask.get(byAsset.get(a.name)!.task)!;
      const list = states.get(a.name);
      if (!intervalSpecOf(task) || !list?.length) continue;
      const latest = list.reduce((x, y) => (y.at > x.at ? y : x));
      const lastSuccessAt = list.reduce<Date | null>(
        (m, x) => (x.lastSuccessAt && (!m || x.lastSuccessAt > m) ? x.lastSuccessAt : m),
        null,
      );
      states.set(a.name, [{ ...latest, partitionKey: DEFAULT_PARTITION, lastSuccessAt }]);
    }
    return { stale: staleAssets(input, states, this.ctx.clock()), byAsset };
  }
}

/**
 * Declarative automation as the application sees it: the state an asset's condition reads, built
 * from the ledger (latest successes, jobs in flight, partition ranges, interval gaps), and the
 * condition evaluated against it — or against a state the user gives (`simulate --state`).
 */
import { DuckorchError } from '../errors.js';
import { evaluateCondition, type AutomationState, type Reason } from '../model/automation/evaluate.js';
import { intervalSpecOf } from '../model/intervals.js';
import { partitionSpace } from '../model/partitions/space.js';
import { findAsset, type Assets, type AssetView } from './assets.js';
import type { ProjectContext } from './context.js';
import type { Definitions } from './definitions.js';
import { intervalJobs } from './intervals.js';
import { settledPartitions } from './partition-states.js';
import type { TaskDefinition } from '../model/taskfile/task.js';

export interface Simulation {
  asset: string;
  condition: string;
  at: Date;
  met: boolean;
  reason: Reason;
  /** What was evaluated: read from the ledger, or given. */
  state: AutomationState;
}

export class Automation {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
    private readonly assets: Assets,
  ) {}

  /**
   * Evaluates an asset's `@automation` condition at `at` (default now), against the ledger or
   * against `state` when given. Nothing is recorded or enqueued.
   */
  async simulate(name: string, options: { at?: Date; state?: AutomationState } = {}): Promise<Simulation> {
    // The registry read once, for the asset and its task.
    const defs = (await this.definitions.requireRegistry()).tasks.map((t) => t.definition);
    const asset = findAsset(this.assets.viewsOf(defs), name);
    const task = defs.find((d) => d.name === asset.definedByTask)!;
    if (!task.automation)
      throw new DuckorchError('UNKNOWN_NAME', `\`${asset.name}\` has no @automation condition`, {
        hint: `declare one in ${task.file}: -- @automation eager() (or on_cron("0 6 * * *"), on_missing(), …)`,
      });
    const at = options.at ?? this.ctx.clock();
    const state = options.state ?? (await this.statesOf([{ asset, task }], at))[0]!;
    const { met, reason } = evaluateCondition(task.automation.ast, state, at);
    return { asset: asset.name, condition: task.automation.condition, at, met, reason, state };
  }

  /** Every asset with an `@automation` condition, evaluated now against the ledger (nothing recorded or enqueued). */
  async status(): Promise<Simulation[]> {
    const at = this.ctx.clock();
    const { tasks } = await this.definitions.requireRegistry();
    const defs = tasks.map((t) => t.definition);
    const byName = new Map(defs.map((d) => [d.name, d]));
    const governed = this.assets
      .viewsOf(defs)
      .map((asset) => ({ asset, task: byName.get(asset.definedByTask)! }))
      .filter(({ task }) => task.automation !== null);
    const states = await this.statesOf(governed, at);
    return governed.map(({ asset, task }, i) => {
      const { met, reason } = evaluateCondition(task.automation!.ast, states[i]!, at);
      return { asset: asset.name, condition: task.automation!.condition, at, met, reason, state: states[i]! };
    });
  }

  /**
   * What the conditions of `assets` read, from the ledger, as of `now`: one read of the latest
   * successes and one of the jobs in flight for all of them; a partitioned asset's stored ranges
   * and an interval task's gaps each.
   */
  private async statesOf(assets: ReadonlyArray<{ asset: AssetView; task: TaskDefinition }>, now: Date): Promise<AutomationState[]> {
    const ledger = await this.ctx.ledger();
    const latest = new Map((await ledger.latestMaterializations()).map((m) => [m.asset, m]));
    const inFlight = await ledger.inFlightCounts();
    const states: AutomationState[] = [];
    for (const { asset, task } of assets) {
      let partitions: AutomationState['partitions'] = null;
      if (task.partitions) {
        const { succeeded } = await settledPartitions(this.ctx, asset.name, task.partitions);
        const all = partitionSpace(task.partitions).all(now);
        partitions = { total: all.size, missing: all.minus(succeeded).size };
      }
      states.push({
        asset: asset.name,
        lastSuccessAt: latest.get(asset.name)?.lastSuccessAt ?? null,
        upstream: asset.upstream.map((u) => ({ asset: u, lastSuccessAt: latest.get(u)?.lastSuccessAt ?? null })),
        inProgress: inFlight.get(task.name) ?? 0,
        partitions,
        intervalsDue: intervalSpecOf(task) ? (await intervalJobs(this.ctx, task, now)).length : null,
        freshnessLagSeconds: asset.freshnessLagSeconds,
        targetLagSeconds: asset.targetLagSeconds,
      });
    }
    return states;
  }
}

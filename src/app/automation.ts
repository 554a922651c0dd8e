/**
 * Declarative automation as the application sees it: the state an asset's condition reads, built
 * from the ledger (latest successes, jobs in flight, partition ranges, interval gaps), and the
 * condition evaluated against it — or against a state the user gives (`simulate --state`).
 */
import { DuckorchError } from '../errors.js';
import { evaluateCondition, type AutomationState, type Reason } from '../model/automation/evaluate.js';
import { intervalSpecOf } from '../model/intervals.js';
import { partitionSpace } from '../model/partitions/space.js';
import type { Assets, AssetView } from './assets.js';
import type { ProjectContext } from './context.js';
import type { Definitions } from './definitions.js';
import { intervalJobs } from './intervals.js';
import { settledPartitions } from './partition-states.js';

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
    const asset = await this.assets.get(name);
    const task = await this.taskOf(asset);
    if (!task.automation)
      throw new DuckorchError('UNKNOWN_NAME', `\`${asset.name}\` has no @automation condition`, {
        hint: `declare one in ${task.file}: -- @automation eager() (or on_cron("0 6 * * *"), on_missing(), …)`,
      });
    const at = options.at ?? this.ctx.clock();
    const state = options.state ?? (await this.stateOf(asset, at));
    const { met, reason } = evaluateCondition(task.automation.ast, state, at);
    return { asset: asset.name, condition: task.automation.condition, at, met, reason, state };
  }

  /** What the condition of `asset` reads, from the ledger, as of `now`. */
  async stateOf(asset: AssetView, now: Date): Promise<AutomationState> {
    const task = await this.taskOf(asset);
    const ledger = await this.ctx.ledger();
    const latest = new Map((await ledger.latestMaterializations()).map((m) => [m.asset, m]));
    let partitions: AutomationState['partitions'] = null;
    if (task.partitions) {
      const space = partitionSpace(task.partitions);
      const { succeeded } = await settledPartitions(this.ctx, asset.name, task.partitions);
      const all = space.all(now);
      partitions = { total: all.size, missing: all.minus(succeeded).size };
    }
    return {
      asset: asset.name,
      lastSuccessAt: latest.get(asset.name)?.lastSuccessAt ?? null,
      upstream: asset.upstream.map((u) => ({ asset: u, lastSuccessAt: latest.get(u)?.lastSuccessAt ?? null })),
      inProgress: (await ledger.inFlightPartitions(task.name)).length,
      partitions,
      intervalsDue: intervalSpecOf(task) ? (await intervalJobs(this.ctx, task, now)).length : null,
      freshnessLagSeconds: asset.freshnessLagSeconds,
      targetLagSeconds: asset.targetLagSeconds,
    };
  }

  private async taskOf(asset: AssetView) {
    const { tasks } = await this.definitions.requireRegistry();
    return tasks.find((t) => t.definition.name === asset.definedByTask)!.definition;
  }
}

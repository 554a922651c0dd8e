/**
 * The asset view of a project: each asset's definition (from the registry) beside what the ledger
 * says of it — its materialisations, the status of its partitions, its freshness and its recent
 * activity. Reads only: an asset's latest state per partition and its materialisations are
 * looked up by asset, never by scanning the history of others.
 */
import { DuckorchError } from '../errors.js';
import { lookupKey } from '../model/names.js';
import { deriveAssets, type AssetCheckRecord, type AssetRecord } from '../model/assets.js';
import type { PartitionDef } from '../model/partitions/definition.js';
import type { Range } from '../model/partitions/ranges.js';
import { partitionSpace } from '../model/partitions/space.js';
import { partitionStatus, type PartitionStatus } from '../model/partitions/status.js';
import { settledPartitions } from './partition-states.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { DEFAULT_PARTITION, type AssetActivity, type CheckResultRecord, type MaterializationRecord } from '../store/ledger.js';
import type { ProjectContext } from './context.js';
import { unknownName, type Definitions } from './definitions.js';

export interface AssetView extends AssetRecord {
  /** Upstream and downstream assets. */
  upstream: string[];
  downstream: string[];
  partitions: { description: string; definition: TaskDefinition['partitions'] } | null;
  checks: AssetCheckRecord[];
}

export type FreshnessStatus = 'ok' | 'violated' | 'none';

export interface Freshness {
  status: FreshnessStatus;
  maxLagSeconds: number | null;
  lastSuccessAt: Date | null;
  /** When it became (or becomes) stale: the last success plus the lag. Null: never materialised, or no policy. */
  violatedSince: Date | null;
}

export interface AssetHealth extends Freshness {
  name: string;
  kind: string;
  group: string | null;
  /** The state of its most recently changed partition, if it ever ran. */
  lastStatus: string | null;
  lastAt: Date | null;
  runs24h: number;
  succeeded24h: number;
  failed24h: number;
}

/**
 * The status of an asset's partitions at a time, as ranges of indices into its partition space
 * (`partitionSpace(definition)` gives the keys): plain data, so that a holder can answer it.
 */
export interface PartitionsView {
  asset: string;
  definition: PartitionDef;
  description: string;
  at: Date;
  total: number;
  ranges: Record<PartitionStatus, Range[]>;
}

const DAY_MS = 86_400_000;

export class Assets {
  constructor(
    private readonly ctx: ProjectContext,
    private readonly definitions: Definitions,
  ) {}

  /** Every asset of the registry (or one group's), with its edges and checks. */
  async list(filter: { group?: string } = {}): Promise<AssetView[]> {
    const { tasks } = await this.definitions.requireRegistry();
    return this.viewsOf(
      tasks.map((t) => t.definition),
      filter,
    );
  }

  /** The assets of these task definitions (a registry read once by the caller), with their edges and checks. */
  viewsOf(defs: readonly TaskDefinition[], filter: { group?: string } = {}): AssetView[] {
    const byTask = new Map(defs.map((d) => [d.name, d]));
    const { assets, edges, checks } = deriveAssets(defs);
    // Indexed once: looking each asset's edges up in the whole list was quadratic (10,000 assets: seconds).
    const group = <T>(items: readonly T[], keyOf: (x: T) => string) => {
      const out = new Map<string, T[]>();
      for (const x of items) {
        const list = out.get(keyOf(x));
        if (list) list.push(x);
        else out.set(keyOf(x), [x]);
      }
      return out;
    };
    const into = group(edges, (e) => e.downstream);
    const outOf = group(edges, (e) => e.upstream);
    const checksOf = group(checks, (c) => c.asset);
    return assets
      .filter((a) => filter.group === undefined || a.group === filter.group)
      .map((a) => {
        const task = byTask.get(a.definedByTask)!;
        return {
          ...a,
          upstream: [...new Set((into.get(a.name) ?? []).map((e) => e.upstream))].sort(),
          downstream: [...new Set((outOf.get(a.name) ?? []).map((e) => e.downstream))].sort(),
          partitions: task.partitions ? { description: partitionSpace(task.partitions).describe(), definition: task.partitions } : null,
          checks: checksOf.get(a.name) ?? [],
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One asset by name (case-insensitive), or an error naming the closest. */
  async get(name: string): Promise<AssetView> {
    return findAsset(await this.list(), name);
  }

  async show(
    name: string,
  ): Promise<{ asset: AssetView; last: MaterializationRecord | null; freshness: Freshness; partitions: PartitionsView | null }> {
    const asset = await this.get(name);
    const ledger = await this.ctx.ledger();
    // The latest by key, then its row among the materialisations since it (the older ones skipped).
    const [latest] = await ledger.latestMaterializations(asset.name);
    const [last] = latest ? await ledger.assetMaterializations(asset.name, { limit: 1, since: latest.at }) : [];
    const lastSuccess = latest?.lastSuccessAt ?? null;
    return {
      asset,
      last: last ?? null,
      freshness: freshness(asset.freshnessLagSeconds, lastSuccess, this.ctx.clock()),
      partitions: asset.partitions ? await this.partitionsOf(asset) : null,
    };
  }

  async materializations(
    name: string,
    options: { limit: number; partitionKey?: string },
  ): Promise<{ asset: AssetView; materializations: MaterializationRecord[] }> {
    const asset = await this.get(name);
    if (options.partitionKey !== undefined) this.checkPartition(asset, options.partitionKey);
    return { asset, materializations: await (await this.ctx.ledger()).assetMaterializations(asset.name, options) };
  }

  /** The status of every partition of a partitioned asset. */
  async partitions(name: string): Promise<PartitionsView | null> {
    const asset = await this.get(name);
    return asset.partitions ? this.partitionsOf(asset) : null;
  }

  /** Freshness and the last day's activity of every asset. */
  async health(): Promise<AssetHealth[]> {
    const assets = await this.list();
    const ledger = await this.ctx.ledger();
    const now = this.ctx.clock();
    const summaries = new Map((await ledger.latestMaterializations()).map((s) => [s.asset, s]));
    const activity = new Map<string, AssetActivity>((await ledger.assetActivity(new Date(now.getTime() - DAY_MS))).map((a) => [a.name, a]));
    return assets.map((a) => {
      const s = summaries.get(a.name);
      const act = activity.get(a.name);
      return {
        name: a.name,
        kind: a.kind,
        group: a.group,
        lastStatus: s?.state ?? null,
        lastAt: s?.at ?? null,
        runs24h: (act?.succeeded ?? 0) + (act?.failed ?? 0),
        succeeded24h: act?.succeeded ?? 0,
        failed24h: act?.failed ?? 0,
        ...freshness(a.freshnessLagSeconds, s?.lastSuccessAt ?? null, now),
      };
    });
  }

  /**
   * Runs an asset's `@check`s against its current data (one partition's, for a partitioned
   * asset: the given one, else its latest), records the results and returns them.
   */
  async checkRun(
    name: string,
    options: { partitionKey?: string } = {},
  ): Promise<{ asset: string; partitionKey: string; results: CheckResultRecord[] }> {
    const asset = await this.get(name);
    const { tasks } = await this.definitions.requireRegistry();
    const task = tasks.find((t) => t.definition.name === asset.definedByTask)!.definition;
    if (task.checks.length === 0)
      throw new DuckorchError('UNKNOWN_NAME', `\`${asset.name}\` has no @check`, {
        hint: 'declare one in its task file: -- @check name=rows "SELECT count(*) FROM ${asset}" expect gt 0',
      });
    let partitionKey = DEFAULT_PARTITION;
    if (options.partitionKey !== undefined) {
      this.checkPartition(asset, options.partitionKey);
      partitionKey = options.partitionKey;
    } else if (task.partitions) {
      // The data there is to check: the last partition materialised, not the newest of the set.
      const { succeeded } = await settledPartitions(this.ctx, asset.name, task.partitions);
      // Ranges are half-open: the last one ends one past its last partition.
      const end = succeeded.ranges.at(-1)?.[1];
      if (end === undefined)
        throw new DuckorchError('PARTITION', `no partition of \`${asset.name}\` has been materialised yet`, {
          hint: `build one first (duck-orch backfill ${asset.name} --partition <key>), or give --partition`,
        });
      partitionKey = partitionSpace(task.partitions).keyAt(end - 1);
    }
    const { instance } = await this.ctx.database();
    const { checkCurrentData } = await import('../runtime/checks.js');
    const results = await checkCurrentData(instance, task, {
      asset: asset.name,
      partitionKey,
      runId: null,
      jobId: null,
      now: this.ctx.clock,
    });
    if (this.ctx.options.access !== 'read') await (await this.ctx.ledger()).recordCheckResults(results);
    return { asset: asset.name, partitionKey, results };
  }

  async checkHistory(name: string, limit: number): Promise<{ asset: string; results: CheckResultRecord[] }> {
    const asset = await this.get(name);
    return { asset: asset.name, results: await (await this.ctx.ledger()).checkHistory(asset.name, limit) };
  }

  private async partitionsOf(asset: AssetView): Promise<PartitionsView> {
    const ledger = await this.ctx.ledger();
    const definition = asset.partitions!.definition!;
    const space = partitionSpace(definition);
    const settled = await settledPartitions(this.ctx, asset.name, definition);
    const inFlight = await ledger.inFlightPartitions(asset.definedByTask);
    const at = this.ctx.clock();
    const sets = partitionStatus(space, at, settled, inFlight);
    return {
      asset: asset.name,
      definition,
      description: space.describe(),
      at,
      total: sets.total,
      ranges: {
        succeeded: [...sets.succeeded.ranges],
        running: [...sets.running.ranges],
        failed: [...sets.failed.ranges],
        missing: [...sets.missing.ranges],
      },
    };
  }

  private checkPartition(asset: AssetView, key: string): void {
    if (!asset.partitions) throw new DuckorchError('PARTITION', `--partition ${key}: \`${asset.name}\` is not partitioned`);
    const at = partitionSpace(asset.partitions.definition!).locate(key, this.ctx.clock());
    if (!at.ok) throw new DuckorchError('PARTITION', `--partition ${key} is not a partition of \`${asset.name}\`: ${at.message}`);
  }
}

/** One asset of `all` by name (case-insensitive), or an error naming the closest. */
export function findAsset(all: readonly AssetView[], name: string): AssetView {
  const found = all.find((a) => lookupKey(a.name) === lookupKey(name));
  if (!found)
    throw unknownName(
      'asset',
      name,
      all.map((a) => a.name),
    );
  return found;
}

/** ok while the last success is within the lag, violated past it (or never materialised), none without a policy. */
export function freshness(maxLagSeconds: number | null, lastSuccessAt: Date | null, now: Date): Freshness {
  if (maxLagSeconds === null) return { status: 'none', maxLagSeconds, lastSuccessAt, violatedSince: null };
  if (lastSuccessAt === null) return { status: 'violated', maxLagSeconds, lastSuccessAt, violatedSince: null };
  const due = new Date(lastSuccessAt.getTime() + maxLagSeconds * 1000);
  return { status: now > due ? 'violated' : 'ok', maxLagSeconds, lastSuccessAt, violatedSince: due };
}

/** What the `asset` commands ask, by name: one method of the project (and of a holder's socket) for all of them. */
export type AssetQueries = Pick<Assets, 'list' | 'show' | 'materializations' | 'partitions' | 'health' | 'checkRun' | 'checkHistory'>;

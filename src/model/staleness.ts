/**
 * Which assets (and partitions) are stale, and why — SQLMesh's plan, Dagster's "unsynced". An
 * asset is stale when it was never materialised, when its latest materialisation failed, when its
 * code changed since its last success, or when an upstream asset materialised after it; and
 * everything downstream of a stale asset is stale too (running it would rebuild them). A
 * partition is judged the same way, against the same key of a partitioned upstream with the same
 * partitions, or against an unpartitioned upstream. Pure: the ledger's latest state per asset ×
 * partition and the definitions in, the verdicts out.
 */
import { DEFAULT_PARTITION } from './jobs/job-state.js';
import { RangeSet } from './partitions/ranges.js';
import type { PartitionSpace } from './partitions/space.js';

export interface StalenessAsset {
  name: string;
  codeVersion: string;
  /** Upstream assets (that are assets of the project). */
  upstream: readonly string[];
  partitions: PartitionSpace | null;
  /** The partition definition as text, to tell whether two assets share their keys. */
  partitionsKey: string | null;
}

export interface LatestState {
  partitionKey: string;
  status: string;
  lastSuccessAt: Date | null;
  codeVersion: string | null;
}

export type StaleReason =
  | { kind: 'never_materialized' }
  | { kind: 'failed' }
  | { kind: 'code_changed'; from: string | null; to: string }
  | { kind: 'upstream_newer'; upstream: string; at: Date }
  | { kind: 'upstream_stale'; upstream: string };

export interface StaleAsset {
  name: string;
  reasons: StaleReason[];
  /** For a partitioned asset: which partitions are stale, and how many there are. */
  partitions?: { stale: RangeSet; total: number; counts: Partial<Record<StaleReason['kind'], number>> };
  /** For a directly stale asset: the stale assets it rebuilds downstream (through those stale only because of it). */
  downstream: string[];
}

/**
 * The stale assets, in the order given (which must put upstream assets first), each with its
 * reasons. `states` holds the latest state of each asset's partitions.
 */
export function staleAssets(
  assets: readonly StalenessAsset[],
  states: ReadonlyMap<string, readonly LatestState[]>,
  now: Date,
): StaleAsset[] {
  const byName = new Map(assets.map((a) => [a.name, a]));
  const verdicts = new Map<string, StaleAsset>();
  /** An unpartitioned asset's last success, or a partitioned one's latest over its partitions. */
  const lastSuccess = new Map<string, Date | null>();
  /** Per partitioned asset: its stale keys' indices, for downstream assets with the same partitions. */
  const staleSets = new Map<string, RangeSet>();
  /** Each asset's states by partition key, made when a downstream asset first asks. */
  const keyed = new Map<string, Map<string, LatestState>>();
  const byKey = (asset: string) => {
    let m = keyed.get(asset);
    if (!m) keyed.set(asset, (m = new Map((states.get(asset) ?? []).map((x) => [x.partitionKey, x]))));
    return m;
  };

  for (const a of assets) {
    const latest = states.get(a.name) ?? [];
    let last: Date | null = null;
    for (const s of latest) if (s.lastSuccessAt && (!last || s.lastSuccessAt > last)) last = s.lastSuccessAt;
    lastSuccess.set(a.name, last);
    const upstream = a.upstream.filter((u) => byName.has(u));
    if (!a.partitions) {
      const s = latest.find((x) => x.partitionKey === DEFAULT_PARTITION);
      const reasons = judge(a, s);
      for (const u of upstream) {
        if (verdicts.has(u)) reasons.push({ kind: 'upstream_stale', upstream: u });
        else {
          const at = lastSuccess.get(u);
          if (at && s?.lastSuccessAt && at > s.lastSuccessAt) reasons.push({ kind: 'upstream_newer', upstream: u, at });
        }
      }
      if (reasons.length) verdicts.set(a.name, { name: a.name, reasons, downstream: [] });
      continue;
    }
    const space = a.partitions;
    const all = space.all(now);
    const counts: Partial<Record<StaleReason['kind'], number>> = {};
    const indexOf = new Map<number, LatestState>();
    for (const s of latest) {
      const at = space.locate(s.partitionKey, now);
      if (at.ok) indexOf.set(at.index, s);
    }
    const staleIdx: number[] = [];
    const count = (kind: StaleReason['kind'], n = 1) => {
      counts[kind] = (counts[kind] ?? 0) + n;
    };
    // Partitions never materialised: the complement of those with a state, by arithmetic.
    const known = RangeSet.ofIndices(indexOf.keys());
    const never = all.minus(known);
    if (!never.isEmpty) count('never_materialized', never.size);
    let stale = never;
    const perKey: StaleReason[] = [];
    for (const [i, s] of indexOf) {
      const r = judge(a, s);
      for (const u of upstream) {
        const up = byName.get(u)!;
        if (up.partitions && up.partitionsKey === a.partitionsKey) {
          const upStates = byKey(u);
          const upStale = staleSets.get(u);
          if (upStale?.has(i)) r.push({ kind: 'upstream_stale', upstream: u });
          else {
            const twin = upStates.get(s.partitionKey);
            if (twin?.lastSuccessAt && s.lastSuccessAt && twin.lastSuccessAt > s.lastSuccessAt)
              r.push({ kind: 'upstream_newer', upstream: u, at: twin.lastSuccessAt });
          }
        } else if (!up.partitions) {
          if (verdicts.has(u)) r.push({ kind: 'upstream_stale', upstream: u });
          else {
            const at = lastSuccess.get(u);
            if (at && s.lastSuccessAt && at > s.lastSuccessAt) r.push({ kind: 'upstream_newer', upstream: u, at });
          }
        }
      }
      if (r.length === 0) continue;
      staleIdx.push(i);
      for (const x of r) {
        count(x.kind);
        if (!perKey.some((y) => y.kind === x.kind && sameUpstream(x, y))) perKey.push(x);
      }
    }
    stale = stale.union(RangeSet.ofIndices(staleIdx)).intersect(all);
    // A partitioned asset downstream of a stale unpartitioned one: every partition.
    for (const u of upstream)
      if (!byName.get(u)!.partitions && verdicts.has(u) && !perKey.some((x) => x.kind === 'upstream_stale' && x.upstream === u)) {
        perKey.push({ kind: 'upstream_stale', upstream: u });
        stale = all;
        count('upstream_stale', all.size);
      }
    if (stale.isEmpty) continue;
    staleSets.set(a.name, stale);
    const reasons: StaleReason[] = [...(never.isEmpty ? [] : [{ kind: 'never_materialized' } as const]), ...perKey];
    verdicts.set(a.name, { name: a.name, reasons, partitions: { stale, total: all.size, counts }, downstream: [] });
  }

  // What each directly stale asset rebuilds downstream: the stale assets it reaches through assets
  // stale only because of it (as SQLMesh lists the models a change modifies indirectly). A directly
  // stale asset on the way lists its own; so the lists stay linear in the graph's size.
  const direct = (v: StaleAsset) => v.reasons.some((r) => r.kind !== 'upstream_stale');
  const children = new Map<string, string[]>();
  for (const a of assets) for (const u of a.upstream) children.set(u, [...(children.get(u) ?? []), a.name]);
  for (const v of verdicts.values()) {
    if (!direct(v)) continue;
    const seen = new Set<string>();
    const stack = [...(children.get(v.name) ?? [])];
    while (stack.length) {
      const n = stack.pop()!;
      const w = verdicts.get(n);
      if (seen.has(n) || !w) continue;
      seen.add(n);
      if (!direct(w)) stack.push(...(children.get(n) ?? []));
    }
    v.downstream = [...seen].sort();
  }
  return assets.filter((a) => verdicts.has(a.name)).map((a) => verdicts.get(a.name)!);
}

function sameUpstream(a: StaleReason, b: StaleReason): boolean {
  const ua = 'upstream' in a ? a.upstream : undefined;
  const ub = 'upstream' in b ? b.upstream : undefined;
  return ua === ub;
}

/** Reasons that need no upstream: never materialised, failed, code changed. */
function judge(a: StalenessAsset, s: LatestState | undefined): StaleReason[] {
  if (!s || (s.lastSuccessAt === null && s.status !== 'succeeded')) return [{ kind: s ? 'failed' : 'never_materialized' }];
  if (s.status !== 'succeeded') return [{ kind: 'failed' }];
  if (s.codeVersion !== null && s.codeVersion !== a.codeVersion) return [{ kind: 'code_changed', from: s.codeVersion, to: a.codeVersion }];
  return [];
}

/** A reason as a line a user reads. */
export function describeReason(r: StaleReason): string {
  switch (r.kind) {
    case 'never_materialized':
      return 'never materialised';
    case 'failed':
      return 'its latest materialisation failed';
    case 'code_changed':
      return `its code changed since its last success (${r.from ?? 'unknown'} → ${r.to})`;
    case 'upstream_newer':
      return `upstream ${r.upstream} materialised after it (${r.at.toISOString()})`;
    case 'upstream_stale':
      return `upstream ${r.upstream} is stale`;
  }
}

/**
 * The status of every partition of an asset at a time, as sets of indices: what the ledger's
 * latest state per partition and the jobs in flight say, laid over the keys that exist. A
 * partition is running while a job of it is queued or in flight, failed when its latest
 * materialisation failed, succeeded when it succeeded, and missing otherwise.
 */
import { RangeSet } from './ranges.js';
import type { PartitionSpace } from './space.js';

export type PartitionStatus = 'succeeded' | 'running' | 'failed' | 'missing';

export const STATUS_GLYPH: Record<PartitionStatus, string> = { succeeded: '✅', running: '🟡', failed: '❌', missing: '⚪' };

export interface PartitionStatusSets {
  total: number;
  succeeded: RangeSet;
  running: RangeSet;
  failed: RangeSet;
  missing: RangeSet;
}

/** The settled status of partitions: which succeeded and which failed last (indices, whether they exist yet or not). */
export interface SettledPartitions {
  succeeded: RangeSet;
  failed: RangeSet;
}

/** Far enough ahead that every key of a definition counts as existing (keys are indexed whether their period is over or not). */
const END_OF_TIME = new Date(Date.UTC(9999, 0, 1));

/**
 * Lays latest states over settled partitions: each state's key leaves the set it was in and
 * joins `succeeded` (succeeded) or `failed` (dead); any other state makes it missing again.
 */
export function foldStates(
  space: PartitionSpace,
  base: SettledPartitions,
  latest: Iterable<{ partitionKey: string; status: string }>,
): SettledPartitions {
  const touched: number[] = [];
  const ok: number[] = [];
  const bad: number[] = [];
  for (const s of latest) {
    const at = space.locate(s.partitionKey, END_OF_TIME);
    if (!at.ok) continue;
    touched.push(at.index);
    if (s.status === 'succeeded') ok.push(at.index);
    else if (s.status === 'dead') bad.push(at.index);
  }
  if (touched.length === 0) return base;
  const changed = RangeSet.ofIndices(touched);
  return {
    succeeded: base.succeeded.minus(changed).union(RangeSet.ofIndices(ok)),
    failed: base.failed.minus(changed).union(RangeSet.ofIndices(bad)),
  };
}

/** The status of every partition that exists at `now`: settled ones, and those queued or in flight. */
export function partitionStatus(
  space: PartitionSpace,
  now: Date,
  settled: SettledPartitions,
  inFlight: Iterable<string>,
): PartitionStatusSets {
  const all = space.all(now);
  const running = RangeSet.ofIndices(
    [...inFlight].flatMap((k) => {
      const at = space.locate(k, now);
      return at.ok ? [at.index] : [];
    }),
  ).intersect(all);
  const succeeded = settled.succeeded.intersect(all).minus(running);
  const failed = settled.failed.intersect(all).minus(running);
  return { total: all.size, succeeded, running, failed, missing: all.minus(succeeded).minus(running).minus(failed) };
}

export function statusOf(sets: PartitionStatusSets, index: number): PartitionStatus {
  return sets.running.has(index) ? 'running' : sets.succeeded.has(index) ? 'succeeded' : sets.failed.has(index) ? 'failed' : 'missing';
}

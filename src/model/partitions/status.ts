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

export function partitionStatus(
  space: PartitionSpace,
  now: Date,
  latest: Iterable<{ partitionKey: string; status: string }>,
  inFlight: Iterable<string>,
): PartitionStatusSets {
  const all = space.all(now);
  const ok: number[] = [];
  const bad: number[] = [];
  for (const s of latest) {
    const at = space.locate(s.partitionKey, now);
    if (!at.ok) continue;
    if (s.status === 'succeeded') ok.push(at.index);
    else if (s.status === 'dead') bad.push(at.index);
  }
  const running = RangeSet.ofIndices(
    [...inFlight].flatMap((k) => {
      const at = space.locate(k, now);
      return at.ok ? [at.index] : [];
    }),
  ).intersect(all);
  const succeeded = RangeSet.ofIndices(ok).minus(running);
  const failed = RangeSet.ofIndices(bad).minus(running);
  return { total: all.size, succeeded, running, failed, missing: all.minus(succeeded).minus(running).minus(failed) };
}

export function statusOf(sets: PartitionStatusSets, index: number): PartitionStatus {
  return sets.running.has(index) ? 'running' : sets.succeeded.has(index) ? 'succeeded' : sets.failed.has(index) ? 'failed' : 'missing';
}

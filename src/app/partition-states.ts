/**
 * The settled status of a partitioned asset's partitions (which succeeded, which failed last) as
 * ranges of indices, kept in the ledger and brought up to date from the partition states changed
 * since: what the calendar, `backfill --missing` and the automation engine read, by arithmetic on
 * a few ranges rather than by reading every partition's state.
 */
import type { PartitionDef } from '../model/partitions/definition.js';
import { RangeSet } from '../model/partitions/ranges.js';
import { partitionSpace } from '../model/partitions/space.js';
import { foldStates, type SettledPartitions } from '../model/partitions/status.js';
import type { ProjectContext } from './context.js';

/**
 * How far back of the stored ranges' time partition states are read again: a writer whose clock
 * lags by less than this (another machine) is still seen. Re-reading a state is harmless.
 */
const CLOCK_MARGIN_MS = 10 * 60_000;

function toPairs(set: RangeSet): Array<[number, number]> {
  return set.ranges.map(([lo, hi]) => [lo, hi]);
}

/**
 * Which partitions of an asset succeeded and failed last, as ranges: the stored ranges, brought
 * up to date with the states changed since they were kept (a margin back, for writers whose
 * clocks lag), and kept again when something changed. Stored ranges of another definition are
 * rebuilt from every state.
 */
export async function settledPartitions(ctx: ProjectContext, asset: string, definition: PartitionDef): Promise<SettledPartitions> {
  const space = partitionSpace(definition);
  const spaceKey = JSON.stringify(definition);
  const ledger = await ctx.ledger();
  const stored = await ledger.partitionRanges(asset);
  const usable = stored?.spaceKey === spaceKey ? stored : undefined;
  const base: SettledPartitions = usable
    ? { succeeded: RangeSet.from(usable.ranges.succeeded), failed: RangeSet.from(usable.ranges.failed) }
    : { succeeded: RangeSet.EMPTY, failed: RangeSet.EMPTY };
  // Brought up to date from the materialisations since (appended in time order: a cheap read), or built from every state.
  const changes = usable
    ? await ledger.partitionChanges(asset, new Date(usable.through.getTime() - CLOCK_MARGIN_MS))
    : await ledger.assetStates(asset);
  if (usable && changes.length === 0) return base;
  const settled = foldStates(space, base, changes);
  let through = usable?.through ?? new Date(0);
  for (const c of changes) if (c.at > through) through = c.at;
  const ranges = { succeeded: toPairs(settled.succeeded), failed: toPairs(settled.failed) };
  const changed = !usable || through > usable.through || JSON.stringify(ranges) !== JSON.stringify(usable.ranges);
  if (changed && ctx.options.access !== 'read') await ledger.savePartitionRanges({ asset, spaceKey, through, ranges });
  return settled;
}

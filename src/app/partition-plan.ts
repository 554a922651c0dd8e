/**
 * Which partitions a run plans. A plain run builds unpartitioned tasks and leaves the partitioned
 * ones to `backfill` (saying so); `run --partition K` builds partition K of the partitioned tasks
 * it selects; a backfill builds a set of partitions of named assets, given as a range, keys,
 * dimension values or what is missing. Keys are checked against each definition at `now`.
 */
import { DuckorchError } from '../errors.js';
import { assetsOf } from '../model/assets.js';
import { intervalSpecOf } from '../model/intervals.js';
import { lookupKey } from '../model/names.js';
import { RangeSet } from '../model/partitions/ranges.js';
import { partitionSpace, type PartitionSpace } from '../model/partitions/space.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { unknownName } from './definitions.js';

export interface PlannedJob {
  task: string;
  partitionKey?: string;
}

function partitionError(message: string, hint?: string): DuckorchError {
  return new DuckorchError('PARTITION', message, hint ? { hint } : {});
}

/** What a task's partitions are, as a hint. */
function partitionsOf(name: string, space: PartitionSpace): string {
  return `\`${name}\` has ${space.describe()} partitions`;
}

/** The latest partition of a space at `now`, as an example for messages. */
function latestKey(space: PartitionSpace, now: Date): string | undefined {
  const size = space.size(now);
  return size > 0 ? space.keyAt(size - 1) : undefined;
}

/**
 * The jobs of a run of `selected` (in run order). Without a partition, partitioned tasks are
 * left out with a warning, or refused when the user named only partitioned tasks.
 */
export function planRunPartitions(
  selected: readonly string[],
  byName: ReadonlyMap<string, TaskDefinition>,
  partition: string | undefined,
  now: Date,
  named: boolean,
): { jobs: PlannedJob[]; warnings: string[] } {
  const partitioned = selected.filter((n) => byName.get(n)!.partitions !== null);
  if (partition === undefined) {
    if (partitioned.length === 0) return { jobs: selected.map((task) => ({ task })), warnings: [] };
    if (named && partitioned.length === selected.length) {
      const t = byName.get(partitioned[0]!)!;
      const space = partitionSpace(t.partitions!);
      const example = latestKey(space, now);
      throw partitionError(
        `${partitioned.length === 1 ? `\`${t.name}\` is partitioned` : `${partitioned.map((n) => `\`${n}\``).join(', ')} are partitioned`} (${space.describe()}): say which partition to build`,
        `duck-orch run -s ${t.name} --partition ${example ?? '<key>'}, or several: ${backfillHint(t)}`,
      );
    }
    const left = partitioned.length;
    return {
      jobs: selected.filter((n) => byName.get(n)!.partitions === null).map((task) => ({ task })),
      warnings: [
        `left out ${left} partitioned task${left === 1 ? '' : 's'} (${partitioned.join(', ')}): build ${left === 1 ? 'it' : 'them'} with ${left === 1 ? backfillHint(byName.get(partitioned[0]!)!) : 'duck-orch backfill <asset> --all (or --from … --to …, --partition <key>, --missing)'}, or run -s <task> --partition <key>`,
      ],
    };
  }
  if (partitioned.length === 0)
    throw partitionError(
      `--partition ${partition}: ${selected.length === 1 ? `\`${selected[0]}\` is not partitioned` : 'none of the selected tasks is partitioned'}`,
      'drop --partition to run it, or select a task with @partitions_by',
    );
  for (const n of partitioned) {
    const space = partitionSpace(byName.get(n)!.partitions!);
    const at = space.locate(partition, now);
    if (!at.ok) throw partitionError(`--partition ${partition} is not a partition of \`${n}\`: ${at.message}`, partitionsOf(n, space));
  }
  return {
    jobs: selected.map((task) => (byName.get(task)!.partitions !== null ? { task, partitionKey: partition } : { task })),
    warnings: [],
  };
}

/** How to backfill a task's partitions: a range where they are periods, else all or by key. */
function backfillHint(t: TaskDefinition): string {
  const asset = assetsOf(t)[0] ?? t.name;
  return partitionSpace(t.partitions!).hasTime()
    ? `duck-orch backfill ${asset} --from … --to … (or --all, --missing)`
    : `duck-orch backfill ${asset} --all (or --partition <key>, --missing)`;
}

/** The task that materialises each named asset (an asset or a task name), in the order given. */
export function resolveAssets(names: readonly string[], tasks: readonly TaskDefinition[]): TaskDefinition[] {
  const byAsset = new Map<string, TaskDefinition>();
  for (const t of tasks) for (const a of assetsOf(t)) byAsset.set(lookupKey(a), t);
  const byTask = new Map(tasks.map((t) => [t.name.toLowerCase(), t]));
  return names.map((n) => {
    const t = byAsset.get(lookupKey(n)) ?? byTask.get(n.trim().toLowerCase());
    if (!t) throw unknownName('asset', n, [...new Set(tasks.flatMap((x) => [...assetsOf(x), x.name]))]);
    return t;
  });
}

export interface BackfillSpec {
  from?: string;
  to?: string;
  /** Keys given one by one (`--partition`, repeatable). */
  partitions?: readonly string[];
  /** `dim=value` filters of a multi partition (`--where`). */
  where?: readonly string[];
}

/** The partitions of `task` a backfill names, before what is missing is taken out. */
export function backfillSet(task: TaskDefinition, spec: BackfillSpec, now: Date): { space: PartitionSpace; set: RangeSet } {
  if (task.partitions === null)
    throw intervalSpecOf(task)
      ? partitionError(
          `\`${task.name}\` processes intervals, not partitions: \`run\` processes what is due`,
          `process a range again with: duck-orch restate ${assetsOf(task)[0] ?? task.name} --from … --to …`,
        )
      : partitionError(`\`${task.name}\` is not partitioned: there is nothing to backfill`, `run it with: duck-orch run -s ${task.name}`);
  const space = partitionSpace(task.partitions);
  let set = space.all(now);
  if (spec.from !== undefined || spec.to !== undefined) {
    const r = space.between(spec.from, spec.to, now);
    if (!r.ok) throw partitionError(`\`${task.name}\`: ${r.message}`, partitionsOf(task.name, space));
    set = set.intersect(r.set);
  }
  if (spec.partitions?.length) {
    const indices = spec.partitions.map((k) => {
      const at = space.locate(k, now);
      if (!at.ok)
        throw partitionError(`--partition ${k} is not a partition of \`${task.name}\`: ${at.message}`, partitionsOf(task.name, space));
      return at.index;
    });
    set = set.intersect(RangeSet.ofIndices(indices));
  }
  for (const w of spec.where ?? []) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new DuckorchError('USAGE', `--where ${w}: expected dimension=value, e.g. region=jp`);
    const r = space.where(w.slice(0, eq).trim(), w.slice(eq + 1).trim(), now);
    if (!r.ok) throw partitionError(`--where ${w}: ${r.message}`, partitionsOf(task.name, space));
    set = set.intersect(r.set);
  }
  return { space, set };
}

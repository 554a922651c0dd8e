/**
 * Which registry rows a registration may change, so that re-registering a large project after
 * one edit writes the rows of a few tasks rather than all of them. A task's rows (its own row,
 * its tests, assets, lineage, and the edges into it) depend on its own definition and on which
 * tasks produce what it reads; so the tasks that changed, and every task reading what they wrote
 * before or write now (or depending on them by name), are rewritten. Over-approximating is safe:
 * rewriting an unchanged row writes the same row.
 */
import { assetsOf } from '../model/assets.js';
import { datasetKey, isFileDataset, isFileGlob } from '../model/names.js';
import type { RegisteredTask, RegistryChange } from '../store/store.js';

function sameRow(a: RegisteredTask, b: RegisteredTask): boolean {
  return (
    a.definition === b.definition &&
    a.filePath === b.filePath &&
    a.sourceRoot === b.sourceRoot &&
    a.fileHash === b.fileHash &&
    a.registeredAt.getTime() === b.registeredAt.getTime() &&
    (a.warnings === b.warnings || JSON.stringify(a.warnings) === JSON.stringify(b.warnings))
  );
}

export function registryChange(previous: readonly RegisteredTask[], next: readonly RegisteredTask[]): RegistryChange {
  const before = new Map(previous.map((t) => [t.definition.name, t]));
  const after = new Map(next.map((t) => [t.definition.name, t]));
  const changed = new Set<string>();
  for (const [name, t] of after) {
    const old = before.get(name);
    if (!old || !sameRow(old, t)) changed.add(name);
  }
  for (const name of before.keys()) if (!after.has(name)) changed.add(name);

  // What the changed tasks wrote or write: whoever reads it may gain or lose an edge.
  const datasets = new Set<string>();
  for (const name of changed) {
    for (const t of [before.get(name), after.get(name)]) {
      if (!t) continue;
      for (const d of [...t.definition.outputs, ...assetsOf(t.definition)]) datasets.add(datasetKey(d));
    }
  }
  const files = [...datasets].some(isFileDataset);
  const reads = (input: string) => datasets.has(datasetKey(input)) || (files && isFileGlob(input));
  const tasks = new Set(changed);
  for (const [name, t] of after) {
    const d = t.definition;
    if (d.inputs.some(reads) || d.dependsOn.some((dep) => changed.has(dep))) tasks.add(name);
  }
  const assets = new Set<string>();
  for (const name of tasks)
    for (const t of [before.get(name), after.get(name)]) if (t) for (const a of assetsOf(t.definition)) assets.add(a);
  return { tasks, assets };
}

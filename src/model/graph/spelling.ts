/**
 * One spelling per dataset across a project. DuckDB matches names case-insensitively, so
 * `Finance.Ledger` written by one task and `finance.ledger` read by another are one dataset;
 * graphs, lineage and listings show it once, as its producing task wrote it (or, for a source
 * nobody writes, as the first task in name order reads it).
 */
import { compareText, datasetKey } from '../names.js';
import type { TaskDefinition } from '../taskfile/task.js';

export function unifySpellings<T extends TaskDefinition>(tasks: readonly T[]): T[] {
  if (spelledOneWay(tasks)) return [...tasks];
  const spelling = new Map<string, string>();
  const ordered = [...tasks].sort((a, b) => compareText(a.name, b.name));
  for (const t of ordered) for (const o of t.outputs) if (!spelling.has(datasetKey(o))) spelling.set(datasetKey(o), o);
  for (const t of ordered) for (const i of t.inputs) if (!spelling.has(datasetKey(i))) spelling.set(datasetKey(i), i);
  const spell = (name: string) => spelling.get(datasetKey(name)) ?? name;
  const same = (names: readonly string[]) => names.every((n) => spell(n) === n);
  return tasks.map((t) => {
    const lineageSame = t.lineage.every((e) => spell(e.src) === e.src && spell(e.dst) === e.dst);
    if (same(t.inputs) && same(t.outputs) && lineageSame && (!t.asset || spell(t.asset.name) === t.asset.name)) return t;
    return {
      ...t,
      inputs: t.inputs.map(spell),
      outputs: t.outputs.map(spell),
      lineage: t.lineage.map((e) => ({ src: spell(e.src), dst: spell(e.dst) })),
      asset: t.asset ? { ...t.asset, name: spell(t.asset.name) } : t.asset,
    };
  });
}

/** Whether no dataset is spelled two ways anywhere: then there is nothing to unify (and no sorting to do). */
function spelledOneWay(tasks: readonly TaskDefinition[]): boolean {
  const seen = new Map<string, string>();
  const one = (name: string) => {
    const key = datasetKey(name);
    const other = seen.get(key);
    if (other === undefined) seen.set(key, name);
    return other === undefined || other === name;
  };
  return tasks.every(
    (t) =>
      t.outputs.every(one) && t.inputs.every(one) && t.lineage.every((e) => one(e.src) && one(e.dst)) && (!t.asset || one(t.asset.name)),
  );
}

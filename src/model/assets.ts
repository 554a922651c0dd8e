/**
 * The asset view of registered tasks (spec §1 "Assets"): `@asset` declares one asset with its
 * metadata; without it, each output of the task is an asset. The primary asset (the declared
 * one, or the first output) carries the checks and automation settings. An asset edge joins
 * each input asset to each output asset of a task.
 */
import { isFileDataset } from './names.js';
import type { TaskDefinition } from './taskfile/task.js';

export interface AssetRecord {
  name: string;
  kind: string;
  group: string | null;
  owner: string | null;
  description: string | null;
  codeVersion: string;
  definedByTask: string;
  tags: string[];
  automationCondition: string | null;
  targetLagSeconds: number | null;
  freshnessLagSeconds: number | null;
  intervalUnit: string | null;
  intervalStartTs: number | null;
  lookback: number | null;
  allowPartials: boolean | null;
}

export interface AssetEdgeRecord {
  upstream: string;
  downstream: string;
  viaTask: string;
  edgeType: 'declared' | 'direct';
}

export interface AssetCheckRecord {
  asset: string;
  name: string;
  sql: string;
  op: string;
  value: string | null;
  severity: 'error' | 'warn';
}

export function primaryAsset(task: TaskDefinition): string | undefined {
  return task.asset?.name || task.outputs[0];
}

/** The assets a task materialises, primary first: the declared asset, or every output. */
export function assetsOf(task: TaskDefinition): string[] {
  return task.asset ? [task.asset.name] : [...task.outputs];
}

/**
 * The asset records of the tasks. With `only`, the records of those tasks alone (asset checks go
 * with their task's assets); what counts as an asset is still decided by every task.
 */
export function deriveAssets(
  tasks: readonly TaskDefinition[],
  only?: ReadonlySet<string>,
): {
  assets: AssetRecord[];
  edges: AssetEdgeRecord[];
  checks: AssetCheckRecord[];
} {
  const assets: AssetRecord[] = [];
  const checks: AssetCheckRecord[] = [];
  const known = new Set<string>();
  for (const t of tasks) {
    if (only && !only.has(t.name)) {
      for (const name of assetsOf(t)) known.add(name);
      continue;
    }
    const primary = primaryAsset(t);
    const names = assetsOf(t);
    for (const name of names) {
      const isPrimary = name === primary;
      known.add(name);
      assets.push({
        name,
        kind: t.asset?.kind ?? (isFileDataset(name) ? 'file' : 'table'),
        group: t.asset?.group ?? null,
        owner: t.asset?.owner ?? t.owner,
        description: t.asset?.description ?? t.description,
        codeVersion: t.codeVersion,
        definedByTask: t.name,
        tags: t.asset?.tags.length ? t.asset.tags : t.tags,
        automationCondition: isPrimary ? (t.automation?.condition ?? null) : null,
        targetLagSeconds: isPrimary ? t.targetLagSeconds : null,
        freshnessLagSeconds: isPrimary ? t.freshnessLagSeconds : null,
        intervalUnit: isPrimary ? (t.automation?.intervalUnit ?? null) : null,
        intervalStartTs: isPrimary ? t.interval.startTs : null,
        lookback: isPrimary ? t.interval.lookback : null,
        allowPartials: isPrimary ? t.interval.allowPartials : null,
      });
    }
    if (primary) {
      for (const c of t.checks) checks.push({ asset: primary, name: c.name, sql: c.sql, op: c.op, value: c.value, severity: c.severity });
      // Each numeric @test is also a check `test_<i>` of the primary asset (spec §1).
      for (const test of t.tests) {
        const a = test.assertion;
        if (a.kind === 'expect_empty' || a.kind === 'expect_non_empty') continue;
        const op = a.kind === 'expect' ? 'eq' : a.kind === 'expect_gt' ? 'gt' : 'lt';
        checks.push({ asset: primary, name: `test_${test.index}`, sql: test.sql, op, value: String(a.value), severity: 'error' });
      }
    }
  }
  const edges: AssetEdgeRecord[] = [];
  for (const t of tasks) {
    if (only && !only.has(t.name)) continue;
    const outs = assetsOf(t).filter((o) => known.has(o));
    for (const input of t.inputs) {
      if (!known.has(input)) continue;
      for (const output of outs) edges.push({ upstream: input, downstream: output, viaTask: t.name, edgeType: 'declared' });
    }
  }
  return { assets, edges, checks };
}

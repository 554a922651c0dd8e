/**
 * Content addresses for definitions and snapshots: the same definitions always give the same
 * snapshot id, so re-registering unchanged files makes no new snapshot, and a run's snapshot
 * can be checked against what it was planned from.
 */
import { createHash } from 'node:crypto';
import type { TaskDefinition } from '../taskfile/task.js';

export function definitionHash(definition: TaskDefinition): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(definition)).digest('hex')}`;
}

export function snapshotId(tasks: Iterable<{ name: string; hash: string; upstream: readonly string[] }>): string {
  const h = createHash('sha256');
  for (const t of [...tasks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
    h.update(`${t.name}\u0000${t.hash}\u0000${[...t.upstream].sort().join('\u0001')}\n`);
  return `sha256:${h.digest('hex')}`;
}

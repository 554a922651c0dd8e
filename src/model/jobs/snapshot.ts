/**
 * Content addresses for definitions and snapshots: the same definitions always give the same
 * snapshot id, so re-registering unchanged files makes no new snapshot, and a run's snapshot
 * can be checked against what it was planned from.
 */
import { createHash } from 'node:crypto';
import type { TaskDefinition } from '../taskfile/task.js';

/**
 * Hashes already known, by definition object: definitions are never changed once built, and a
 * registry of 19,000 tasks would otherwise serialise and hash every one of them for each snapshot.
 */
const knownHashes = new WeakMap<TaskDefinition, string>();

export function definitionHash(definition: TaskDefinition): string {
  let hash = knownHashes.get(definition);
  if (hash === undefined) {
    hash = `sha256:${createHash('sha256').update(JSON.stringify(definition)).digest('hex')}`;
    knownHashes.set(definition, hash);
  }
  return hash;
}

/**
 * Records the hash of a definition read back from where it was stored with its hash (the
 * registry): what `definitionHash` gave for it before it was stored.
 */
export function rememberDefinitionHash(definition: TaskDefinition, hash: string): void {
  knownHashes.set(definition, hash);
}

export function snapshotId(tasks: Iterable<{ name: string; hash: string; upstream: readonly string[] }>): string {
  const h = createHash('sha256');
  for (const t of [...tasks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)))
    h.update(`${t.name}\u0000${t.hash}\u0000${[...t.upstream].sort().join('\u0001')}\n`);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Definitions stored by an older duck-orch lack fields added since; they are completed with what
 * those fields meant before they existed, so that a project registered earlier still runs
 * (its next `register` analyses every file again and stores complete definitions).
 */
import type { TaskDefinition } from './task.js';

type Optional = 'lineage' | 'keyLocations' | 'kind' | 'function';
type Stored = Omit<TaskDefinition, Optional> & Partial<Pick<TaskDefinition, Optional>>;

export function upgradeDefinition(stored: Stored): TaskDefinition {
  if (stored.lineage && stored.keyLocations && stored.kind) return stored as TaskDefinition;
  return {
    ...stored,
    kind: stored.kind ?? 'sql',
    function: stored.function ?? null,
    keyLocations: stored.keyLocations ?? {},
    lineage: stored.lineage ?? stored.inputs.flatMap((src) => stored.outputs.map((dst) => ({ src, dst }))),
    tests: stored.tests.map((t) => ({ ...t, col: t.col ?? 1 })),
    checks: stored.checks.map((c) => ({ ...c, col: c.col ?? 1 })),
  };
}

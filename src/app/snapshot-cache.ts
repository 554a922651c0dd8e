/**
 * The definitions jobs run, from their run's snapshot: read from the ledger once per task and
 * kept, as a snapshot never changes (its id is its content's hash).
 */
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { Ledger, Snapshot, SnapshotTask } from '../store/ledger.js';

export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();

  /** The ledger is asked for only when a snapshot is not held already. */
  constructor(private readonly ledger: () => Promise<Ledger>) {}

  /** A snapshot this process holds already (it saved or loaded it whole). */
  add(snapshot: Snapshot): void {
    this.snapshots.set(snapshot.id, snapshot);
  }

  /** The definition of `task` in snapshot `id`; undefined when the snapshot has no such task. */
  async task(id: string, task: string): Promise<TaskDefinition | undefined> {
    const known = this.snapshots.get(id);
    const hit = known?.tasks.get(task);
    if (hit) return hit.definition;
    const loaded = await (await this.ledger()).loadSnapshot(id, [task]);
    const def = loaded?.tasks.get(task);
    if (!loaded || !def) return undefined;
    if (known) (known.tasks as Map<string, SnapshotTask>).set(task, def);
    else this.snapshots.set(id, loaded);
    return def.definition;
  }
}

/**
 * The PostgreSQL ledger's snapshots: task definitions stored once by hash, the tasks of each
 * snapshot, and the snapshots recorded for each DAG with the one that is active. `PgLedger`
 * extends it.
 */
import type { TaskDefinition } from '../../model/taskfile/task.js';
import { upgradeDefinition } from '../../model/taskfile/upgrade.js';
import type { DagSnapshot, NewDagSnapshot, Snapshot, SnapshotTask } from '../ledger.js';
import { dagSnapshotFromRow, toDate } from '../rows.js';
import { PgReads } from './pg-reads.js';

export abstract class PgSnapshots extends PgReads {
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const tasks = [...snapshot.tasks.entries()];
    await this.tx(async (c) => {
      const inserted = await c.query(`INSERT INTO ${this.s}.snapshots VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
        snapshot.id,
        snapshot.createdAt,
        tasks.length,
      ]);
      if (inserted.rowCount === 0) return;
      await c.query(
        `INSERT INTO ${this.s}.definitions
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[]) ON CONFLICT DO NOTHING`,
        [
          tasks.map(([, t]) => t.hash),
          tasks.map(([n]) => n),
          tasks.map(([, t]) => t.definition.kind),
          tasks.map(([, t]) => JSON.stringify(t.definition)),
        ],
      );
      await c.query(
        `INSERT INTO ${this.s}.snapshot_tasks
         SELECT $1, name, hash, ARRAY(SELECT jsonb_array_elements_text(up)) FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS t(name, hash, up)`,
        [snapshot.id, tasks.map(([n]) => n), tasks.map(([, t]) => t.hash), tasks.map(([, t]) => JSON.stringify(t.upstream))],
      );
    });
  }

  async loadSnapshot(id: string, only?: readonly string[]): Promise<Snapshot | undefined> {
    const head = (await this.q(`SELECT created_at FROM ${this.s}.snapshots WHERE snapshot_id = $1`, [id])).rows[0];
    if (!head) return undefined;
    const rows = (
      await this.q(
        `SELECT t.task_name, t.definition_hash, t.upstream, d.definition_json FROM ${this.s}.snapshot_tasks t
         JOIN ${this.s}.definitions d USING (definition_hash) WHERE t.snapshot_id = $1 ${only ? 'AND t.task_name = ANY($2)' : ''}`,
        only ? [id, [...only]] : [id],
      )
    ).rows;
    const tasks = new Map<string, SnapshotTask>();
    for (const r of rows)
      tasks.set(String(r.task_name), {
        definition: upgradeDefinition(r.definition_json as TaskDefinition),
        hash: String(r.definition_hash),
        upstream: (r.upstream as string[]).map(String),
      });
    return { id, createdAt: toDate(head.created_at)!, tasks };
  }

  async recordDagSnapshot(entry: NewDagSnapshot, activate: boolean, now: Date): Promise<{ recorded: boolean; activated: boolean }> {
    return this.tx(async (c) => {
      const recorded = await c.query(`INSERT INTO ${this.s}.dag_snapshots VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [
        entry.dag,
        entry.snapshotId,
        entry.module,
        entry.exportName,
        now,
      ]);
      if (!recorded.rowCount)
        // The same code from another place (a new checkout): a worker loads it from there now.
        await c.query(`UPDATE ${this.s}.dag_snapshots SET module = $3, export_name = $4 WHERE dag_name = $1 AND snapshot_id = $2`, [
          entry.dag,
          entry.snapshotId,
          entry.module,
          entry.exportName,
        ]);
      let activated = false;
      if (activate) {
        const changed = await c.query(
          `INSERT INTO ${this.s}.active_dags VALUES ($1, $2, $3)
           ON CONFLICT (dag_name) DO UPDATE SET snapshot_id = EXCLUDED.snapshot_id, activated_at = EXCLUDED.activated_at
           WHERE active_dags.snapshot_id <> EXCLUDED.snapshot_id`,
          [entry.dag, entry.snapshotId, now],
        );
        activated = (changed.rowCount ?? 0) > 0;
      }
      return { recorded: (recorded.rowCount ?? 0) > 0, activated };
    });
  }

  async dagSnapshots(filter: { dag?: string; activeOnly?: boolean } = {}): Promise<DagSnapshot[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    if (filter.dag !== undefined) where.push(`d.dag_name = $${params.push(filter.dag)}`);
    if (filter.activeOnly) where.push('a.dag_name IS NOT NULL');
    return (
      await this.q(
        `SELECT d.*, s.task_count, a.dag_name IS NOT NULL AS active FROM ${this.s}.dag_snapshots d
         JOIN ${this.s}.snapshots s USING (snapshot_id)
         LEFT JOIN ${this.s}.active_dags a ON a.dag_name = d.dag_name AND a.snapshot_id = d.snapshot_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.dag_name`,
        params,
      )
    ).rows.map(dagSnapshotFromRow);
  }
}

/**
 * The embedded ledger's snapshots: task definitions stored once by hash, the tasks of each
 * snapshot, and the snapshots recorded for each DAG with the one that is active. Written on the
 * ledger's writing connection in its queue of exclusive work, read on its reading connection.
 * `DuckDbLedger` extends it.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { listValue } from '../../duckdb-api.js';
import type { TaskDefinition } from '../../model/taskfile/task.js';
import { upgradeDefinition } from '../../model/taskfile/upgrade.js';
import type { DagSnapshot, NewDagSnapshot, Snapshot, SnapshotTask } from '../ledger.js';
import { dagSnapshotFromRow, toDate } from '../rows.js';
import { DuckDbReads } from './ledger-reads.js';
import { inTransaction, insertRows } from './sql-util.js';

export abstract class DuckDbSnapshots extends DuckDbReads {
  /** The writing connection. */
  protected abstract readonly conn: DuckDBConnection;
  /** Runs `fn` on the writing connection once the work queued before it has ended. */
  protected abstract exclusive<T>(fn: () => Promise<T>): Promise<T>;

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.exclusive(() => this.writeSnapshot(snapshot));
  }

  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const exists = await this.conn.runAndReadAll('SELECT 1 FROM __orch__.snapshots WHERE snapshot_id = $1', [snapshot.id]);
    if (exists.currentRowCount > 0) return;
    const tasks = [...snapshot.tasks.values()];
    // Only the hashes not stored yet come back: a new snapshot of a large registry differs by a few.
    const unknown = new Set(
      tasks.length === 0
        ? []
        : (
            await this.reader.runAndReadAll(
              'SELECT h FROM unnest($1::VARCHAR[]) AS u(h) ANTI JOIN __orch__.definitions d ON d.definition_hash = u.h',
              [listValue(tasks.map((t) => t.hash))],
            )
          )
            .getRows()
            .map((r) => String(r[0])),
    );
    const fresh = new Map(tasks.filter((t) => unknown.has(t.hash)).map((t) => [t.hash, t]));
    await inTransaction(this.conn, async () => {
      await insertRows(
        this.conn,
        'definitions',
        { definition_hash: 'VARCHAR', task_name: 'VARCHAR', kind: 'VARCHAR', definition_json: 'VARCHAR' },
        [...fresh.values()],
        (t) => ({
          definition_hash: t.hash,
          task_name: t.definition.name,
          kind: t.definition.kind,
          definition_json: JSON.stringify(t.definition),
        }),
      );
      await this.conn.run('INSERT INTO __orch__.snapshots VALUES ($1, $2::TIMESTAMP, $3)', [
        snapshot.id,
        snapshot.createdAt.toISOString(),
        tasks.length,
      ]);
      await insertRows(
        this.conn,
        'snapshot_tasks',
        { snapshot_id: 'VARCHAR', task_name: 'VARCHAR', definition_hash: 'VARCHAR', upstream: 'VARCHAR[]' },
        tasks,
        (t) => ({ snapshot_id: snapshot.id, task_name: t.definition.name, definition_hash: t.hash, upstream: t.upstream }),
      );
    });
  }

  async loadSnapshot(id: string, only?: readonly string[]): Promise<Snapshot | undefined> {
    const head = (
      await this.reader.runAndReadAll('SELECT created_at FROM __orch__.snapshots WHERE snapshot_id = $1', [id])
    ).getRowObjectsJS()[0];
    if (!head) return undefined;
    const filter = only ? ' AND s.task_name IN (SELECT unnest($2::VARCHAR[]))' : '';
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT s.task_name, s.definition_hash, s.upstream, d.definition_json FROM __orch__.snapshot_tasks s
         JOIN __orch__.definitions d USING (definition_hash) WHERE s.snapshot_id = $1${filter}`,
        only ? [id, listValue([...only])] : [id],
      )
    ).getRowObjectsJS();
    const tasks = new Map<string, SnapshotTask>();
    for (const r of rows)
      tasks.set(String(r.task_name), {
        definition: upgradeDefinition(JSON.parse(String(r.definition_json)) as TaskDefinition),
        hash: String(r.definition_hash),
        upstream: (r.upstream as string[]).map(String),
      });
    return { id, createdAt: toDate(head.created_at)!, tasks };
  }

  recordDagSnapshot(entry: NewDagSnapshot, activate: boolean, now: Date): Promise<{ recorded: boolean; activated: boolean }> {
    return this.exclusive(() =>
      inTransaction(this.conn, async () => {
        const known =
          (
            await this.conn.runAndReadAll('SELECT 1 FROM __orch__.dag_snapshots WHERE dag_name = $1 AND snapshot_id = $2', [
              entry.dag,
              entry.snapshotId,
            ])
          ).currentRowCount > 0;
        if (known)
          // The same code from another place (a moved project): a worker loads it from there now.
          await this.conn.run('UPDATE __orch__.dag_snapshots SET module = $3, export_name = $4 WHERE dag_name = $1 AND snapshot_id = $2', [
            entry.dag,
            entry.snapshotId,
            entry.module,
            entry.exportName,
          ]);
        else
          await this.conn.run('INSERT INTO __orch__.dag_snapshots VALUES ($1, $2, $3, $4, $5::TIMESTAMP)', [
            entry.dag,
            entry.snapshotId,
            entry.module,
            entry.exportName,
            now.toISOString(),
          ]);
        let activated = false;
        if (activate) {
          const current = (await this.conn.runAndReadAll('SELECT snapshot_id FROM __orch__.active_dags WHERE dag_name = $1', [entry.dag]))
            .getRows()
            .map((r) => String(r[0]))[0];
          if (current !== entry.snapshotId) {
            await this.conn.run('DELETE FROM __orch__.active_dags WHERE dag_name = $1', [entry.dag]);
            await this.conn.run('INSERT INTO __orch__.active_dags VALUES ($1, $2, $3::TIMESTAMP)', [
              entry.dag,
              entry.snapshotId,
              now.toISOString(),
            ]);
            activated = true;
          }
        }
        return { recorded: !known, activated };
      }),
    );
  }

  async dagSnapshots(filter: { dag?: string; activeOnly?: boolean } = {}): Promise<DagSnapshot[]> {
    const params: DuckDBValue[] = [];
    const where: string[] = [];
    if (filter.dag !== undefined) where.push(`d.dag_name = $${params.push(filter.dag)}`);
    if (filter.activeOnly) where.push('a.dag_name IS NOT NULL');
    return (
      await this.reader.runAndReadAll(
        `SELECT d.*, s.task_count, a.dag_name IS NOT NULL AS active FROM __orch__.dag_snapshots d
         JOIN __orch__.snapshots s USING (snapshot_id)
         LEFT JOIN __orch__.active_dags a ON a.dag_name = d.dag_name AND a.snapshot_id = d.snapshot_id
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY d.created_at DESC, d.dag_name`,
        params,
      )
    )
      .getRowObjectsJS()
      .map(dagSnapshotFromRow);
  }
}

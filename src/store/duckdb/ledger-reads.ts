/**
 * The embedded ledger's reads for history and status (runs, jobs, attempts, failures, queue
 * depth, the latest state of tasks and assets), on the ledger's reading connection after a
 * flush of what is buffered. `DuckDbLedger` extends it with what changes the ledger.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { listValue } from '../../duckdb-api.js';
import type { JobState } from '../../model/jobs/job-state.js';
import {
  type AssetActivity,
  type AssetSummary,
  type CheckResultRecord,
  type LatestMaterialization,
  type MaterializationRecord,
  type AttemptRecord,
  type JobQuery,
  type JobRecord,
  type PartitionState,
  type StoredPartitionRanges,
  type RunRecord,
  type TaskFailures,
} from '../ledger.js';
import {
  DUCKDB_ROWS,
  MATERIALIZATION_SELECT,
  assetSummaryFromRow,
  materializationFromRow,
  attemptFromRow,
  jobFromRow,
  toDate,
  CHECK_RESULT_COLUMNS,
  checkResultFromRow,
  latestFromRow,
} from '../rows.js';
import { RUNS_OF_DAG, fromRunRow, STATE_SELECT, fromStateTuple } from './ledger-rows.js';

export abstract class DuckDbReads {
  /** Reads go through their own connection, so they never wait for a flush nor join its transaction. */
  protected abstract readonly reader: DuckDBConnection;
  /** Writes what is buffered, so that a read sees it. */
  abstract flush(): Promise<void>;

  async findRuns(prefix: string, limit: number): Promise<RunRecord[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        'SELECT * FROM __orch__.pipeline_runs WHERE starts_with(pipeline_run_id, $1) ORDER BY created_at DESC LIMIT $2',
        [prefix.toLowerCase(), limit],
      )
    )
      .getRowObjectsJS()
      .map(fromRunRow);
  }

  async failures(since: Date, limit: number, tasks?: readonly string[]): Promise<TaskFailures[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT task_name, count(*) AS failures, arg_max(error_message, attempt_seq) AS last_error, max(finished_at) AS last_at
         FROM __orch__.attempts WHERE outcome = 'failed' AND finished_at >= $1::TIMESTAMP
           ${tasks ? 'AND task_name IN (SELECT unnest($3::VARCHAR[]))' : ''}
         GROUP BY task_name ORDER BY failures DESC, last_at DESC LIMIT $2`,
        tasks ? [since.toISOString(), limit, listValue([...tasks])] : [since.toISOString(), limit],
      )
    )
      .getRowObjectsJS()
      .map((r) => ({
        task: String(r.task_name),
        failures: Number(r.failures),
        lastError: (r.last_error as string | null) ?? null,
        lastFailedAt: toDate(r.last_at)!,
      }));
  }

  async listRuns(limit: number): Promise<RunRecord[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll('SELECT * FROM __orch__.pipeline_runs ORDER BY created_at DESC, pipeline_run_id LIMIT $1', [limit])
    )
      .getRowObjectsJS()
      .map(fromRunRow);
  }

  async listJobs(q: JobQuery): Promise<JobRecord[]> {
    await this.flush();
    const where: string[] = [];
    const params: DuckDBValue[] = [];
    if (q.task !== undefined) where.push(`task_name = $${params.push(q.task)}`);
    if (q.tasks !== undefined) where.push(`task_name IN (SELECT unnest($${params.push(listValue([...q.tasks]))}::VARCHAR[]))`);
    if (q.runId !== undefined) where.push(`pipeline_run_id = $${params.push(q.runId)}`);
    if (q.states !== undefined) where.push(`state IN (SELECT unnest($${params.push(listValue([...q.states]))}::VARCHAR[]))`);
    if (q.dag !== undefined) where.push(`pipeline_run_id IN (${RUNS_OF_DAG}$${params.push(q.dag)})`);
    params.push(q.limit);
    const sql =
      `SELECT * FROM __orch__.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY updated_at DESC, task_name LIMIT $${params.length}`;
    return (await this.reader.runAndReadAll(sql, params)).getRowObjectsJS().map((r) => jobFromRow(r, DUCKDB_ROWS));
  }

  async listAttempts(jobIds: readonly string[]): Promise<AttemptRecord[]> {
    if (jobIds.length === 0) return [];
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        'SELECT * FROM __orch__.attempts WHERE job_id IN (SELECT unnest($1::VARCHAR[])) ORDER BY attempt_seq',
        [listValue([...jobIds])],
      )
    )
      .getRowObjectsJS()
      .map((r) => attemptFromRow(r, DUCKDB_ROWS));
  }

  async queueDepth(filter: { runId?: string; tasks?: readonly string[]; dag?: string } = {}): Promise<Partial<Record<JobState, number>>> {
    await this.flush();
    const where: string[] = [];
    const params: DuckDBValue[] = [];
    if (filter.runId !== undefined) where.push(`pipeline_run_id = $${params.push(filter.runId)}`);
    if (filter.tasks !== undefined) where.push(`task_name IN (SELECT unnest($${params.push(listValue([...filter.tasks]))}::VARCHAR[]))`);
    if (filter.dag !== undefined) where.push(`pipeline_run_id IN (${RUNS_OF_DAG}$${params.push(filter.dag)})`);
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT state, count(*) FROM __orch__.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY state`,
        params,
      )
    ).getRows();
    const out: Partial<Record<JobState, number>> = {};
    for (const [state, n] of rows) out[String(state) as JobState] = Number(n);
    return out;
  }

  async assetStates(asset?: string): Promise<PartitionState[]> {
    await this.flush();
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT ${STATE_SELECT} FROM __orch__.asset_state ${asset === undefined ? '' : 'WHERE asset_name = $1'} ORDER BY asset_name, partition_key`,
        asset === undefined ? [] : [asset],
      )
    ).getRows();
    return rows.map(fromStateTuple);
  }

  async partitionRanges(asset: string): Promise<StoredPartitionRanges | undefined> {
    await this.flush();
    const [row] = (
      await this.reader.runAndReadAll(
        'SELECT space_key, epoch_ms(through)::DOUBLE, ranges_json FROM __orch__.asset_partition_ranges WHERE asset_name = $1',
        [asset],
      )
    ).getRows();
    if (!row) return undefined;
    return {
      asset,
      spaceKey: String(row[0]),
      through: new Date(Number(row[1])),
      ranges: JSON.parse(String(row[2])) as StoredPartitionRanges['ranges'],
    };
  }

  async assetMaterializations(
    asset: string,
    options: { limit: number; partitionKey?: string; since?: Date },
  ): Promise<MaterializationRecord[]> {
    await this.flush();
    const params: DuckDBValue[] = [asset, options.limit];
    // Rows are appended in time order: a lower bound on the time lets DuckDB skip the older row groups.
    const partition =
      (options.partitionKey === undefined ? '' : `AND partition_key = $${params.push(options.partitionKey)}`) +
      (options.since === undefined ? '' : ` AND finished_at >= $${params.push(options.since.toISOString())}::TIMESTAMP`);
    return (
      await this.reader.runAndReadAll(
        `SELECT ${MATERIALIZATION_SELECT} FROM __orch__.asset_materializations WHERE asset_name = $1 ${partition}
         ORDER BY finished_at DESC LIMIT $2`,
        params,
      )
    )
      .getRowObjectsJS()
      .map(materializationFromRow);
  }

  async latestMaterializations(asset?: string): Promise<LatestMaterialization[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT asset_name, partition_key, state, updated_at, last_success_at, pipeline_run_id AS run_id, job_id, rows_count, code_version
         FROM __orch__.asset_latest ${asset === undefined ? '' : 'WHERE asset_name = $1'} ORDER BY asset_name`,
        asset === undefined ? [] : [asset],
      )
    )
      .getRowObjectsJS()
      .map(latestFromRow);
  }

  async partitionChanges(asset: string, since: Date): Promise<Array<{ partitionKey: string; status: 'succeeded' | 'dead'; at: Date }>> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT partition_key, arg_max(status, finished_at), epoch_ms(max(finished_at))::DOUBLE FROM __orch__.asset_materializations
         WHERE asset_name = $1 AND finished_at >= $2::TIMESTAMP GROUP BY partition_key`,
        [asset, since.toISOString()],
      )
    )
      .getRows()
      .map(([k, status, at]) => ({
        partitionKey: String(k),
        status: status === 'succeeded' ? 'succeeded' : 'dead',
        at: new Date(Number(at)),
      }));
  }

  async inFlightPartitions(task: string): Promise<string[]> {
    await this.flush();
    // Only jobs of runs not finished can be unfinished; jobs are appended in time order, so a
    // lower bound on their creation skips the row groups of finished runs (none at all: no rows).
    return (
      await this.reader.runAndReadAll(
        `SELECT partition_key FROM __orch__.jobs
         WHERE task_name = $1 AND state IN ('pending', 'processing', 'failed')
           AND created_at >= (SELECT min(created_at) FROM __orch__.pipeline_runs WHERE finished_at IS NULL)`,
        [task],
      )
    )
      .getRows()
      .map(([k]) => String(k));
  }

  async inFlightCounts(): Promise<Map<string, number>> {
    await this.flush();
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT task_name, count(*) FROM __orch__.jobs
         WHERE state IN ('pending', 'processing', 'failed')
           AND created_at >= (SELECT min(created_at) FROM __orch__.pipeline_runs WHERE finished_at IS NULL)
         GROUP BY task_name`,
      )
    ).getRows();
    return new Map(rows.map(([task, n]) => [String(task), Number(n)]));
  }

  async checkHistory(asset: string, limit: number): Promise<CheckResultRecord[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT ${CHECK_RESULT_COLUMNS.join(', ')} FROM __orch__.asset_check_results WHERE asset_name = $1 ORDER BY checked_at DESC LIMIT $2`,
        [asset, limit],
      )
    )
      .getRowObjectsJS()
      .map(checkResultFromRow);
  }

  async assetActivity(since: Date): Promise<AssetActivity[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT asset_name, count(*) FILTER (WHERE status = 'succeeded') AS succeeded, count(*) FILTER (WHERE status <> 'succeeded') AS failed
         FROM __orch__.asset_materializations WHERE finished_at >= $1::TIMESTAMP GROUP BY asset_name ORDER BY asset_name`,
        [since.toISOString()],
      )
    )
      .getRows()
      .map(([name, ok, failed]) => ({ name: String(name), succeeded: Number(ok), failed: Number(failed) }));
  }

  async assetSummaries(asset?: string): Promise<AssetSummary[]> {
    await this.flush();
    return (
      await this.reader.runAndReadAll(
        `SELECT asset_name, count(*) AS partitions, arg_max(state, updated_at) AS state, max(updated_at) AS updated_at,
                max(last_success_at) AS last_success_at
         FROM __orch__.asset_state ${asset === undefined ? '' : 'WHERE asset_name = $1'} GROUP BY asset_name ORDER BY asset_name`,
        asset === undefined ? [] : [asset],
      )
    )
      .getRowObjectsJS()
      .map(assetSummaryFromRow);
  }

  async taskStates(): Promise<PartitionState[]> {
    await this.flush();
    // One row per task, its most recently changed partition: a partitioned task has thousands.
    return (
      await this.reader.runAndReadAll(
        `SELECT task_name, arg_max(partition_key, updated_at), arg_max(state, updated_at), epoch_ms(max(updated_at))::DOUBLE,
                epoch_ms(max(last_success_at))::DOUBLE, arg_max(rows_count, updated_at)::DOUBLE, arg_max(code_version, updated_at)
         FROM __orch__.task_state GROUP BY task_name ORDER BY task_name`,
      )
    )
      .getRows()
      .map(fromStateTuple);
  }

  async currentTasks(runIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    const out = new Map<string, ReadonlySet<string>>();
    if (runIds.length === 0) return out;
    await this.flush();
    const rows = (
      await this.reader.runAndReadAll(
        `SELECT p.pipeline_run_id, p.dag_name, list(st.task_name) FILTER (WHERE st.task_name IS NOT NULL)
         FROM __orch__.pipeline_runs p
         LEFT JOIN __orch__.active_dags a ON a.dag_name = p.dag_name
         LEFT JOIN __orch__.snapshot_tasks st ON st.snapshot_id = a.snapshot_id
         WHERE p.pipeline_run_id IN (SELECT unnest($1::VARCHAR[])) GROUP BY ALL`,
        [listValue([...runIds])],
      )
    ).getRowsJS() as Array<[string, string | null, string[] | null]>;
    let registry: ReadonlySet<string> | undefined;
    for (const [id, dag, tasks] of rows) {
      if (dag !== null) {
        // A DAG run from a module, never activated: nothing says what its DAG is now.
        if (tasks && tasks.length > 0) out.set(id, new Set(tasks));
        continue;
      }
      registry ??= new Set((await this.reader.runAndReadAll('SELECT name FROM __orch__.tasks')).getRows().map((r) => String(r[0])));
      out.set(id, registry);
    }
    return out;
  }
}

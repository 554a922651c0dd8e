/**
 * The PostgreSQL ledger's reads for history and status (runs, jobs, attempts, failures, queue
 * depth, the latest state of tasks and assets): plain queries, no locks, no writes. `PgLedger`
 * extends it with everything that changes the ledger.
 */
import { JOB_STATES, runState, type JobState } from '../../model/jobs/job-state.js';
import {
  DEFAULT_PARTITION,
  type AssetActivity,
  type AssetSummary,
  type CheckResultRecord,
  type LatestMaterialization,
  type MaterializationRecord,
  type AttemptRecord,
  type JobQuery,
  type JobRecord,
  type JsonValue,
  type PartitionState,
  type StoredPartitionRanges,
  type RunRecord,
  type RunMetadata,
  type TaskFailures,
} from '../ledger.js';
import { PgSession } from './pg-session.js';
import {
  MATERIALIZATION_SELECT,
  POSTGRES_ROWS,
  assetSummaryFromRow,
  materializationFromRow,
  attemptFromRow,
  jobFromRow,
  toDate,
  CHECK_RESULT_COLUMNS,
  checkResultFromRow,
  latestFromRow,
  checkResultValues,
  toNumber,
  type Row,
} from '../rows.js';

function partitionStateFromRow(x: Row, name: string): PartitionState {
  return {
    name,
    partitionKey: String(x.partition_key),
    status: x.state as JobState,
    at: toDate(x.updated_at)!,
    lastSuccessAt: toDate(x.last_success_at),
    rows: toNumber(x.rows_count),
    codeVersion: x.code_version === null || x.code_version === undefined ? null : String(x.code_version),
  };
}

export abstract class PgReads extends PgSession {
  protected async runRecords(where: string, params: unknown[]): Promise<RunRecord[]> {
    const rows = (
      await this.q(
        `SELECT r.*, coalesce((SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM ${this.s}.jobs j WHERE j.run_id = r.run_id GROUP BY state) c), '{}') AS counts,
           (SELECT min(started_at) FROM ${this.s}.jobs j WHERE j.run_id = r.run_id) AS started_at,
           (SELECT max(finished_at) FROM ${this.s}.jobs j WHERE j.run_id = r.run_id) AS finished_at
         FROM ${this.s}.runs r ${where}`,
        params,
      )
    ).rows;
    return rows.map((r) => {
      const counts = Object.fromEntries(
        Object.entries(r.counts as Record<string, number>).map(([k, v]) => [k, Number(v)]),
      ) as RunRecord['counts'];
      const derived = runState(counts);
      const startedAt = toDate(r.started_at);
      const state = derived === 'queued' && startedAt !== null ? 'running' : derived;
      const done = state === 'succeeded' || state === 'failed' || state === 'cancelled';
      return {
        id: String(r.run_id),
        snapshotId: (r.snapshot_id as string | null) ?? null,
        trigger: String(r.trigger),
        selector: (r.selector as string | null) ?? null,
        inputs: (r.inputs as JsonValue | undefined) ?? null,
        state,
        createdAt: toDate(r.created_at)!,
        startedAt,
        finishedAt: done ? (toDate(r.finished_at) ?? toDate(r.created_at)) : null,
        counts,
        tasks: ((r.planned_tasks as string[] | null) ?? []).map(String),
        dag: (r.dag_name as string | null) ?? null,
        metadata: (r.metadata as RunMetadata | null) ?? {},
      };
    });
  }

  async currentTasks(runIds: readonly string[]): Promise<Map<string, ReadonlySet<string>>> {
    const out = new Map<string, ReadonlySet<string>>();
    if (runIds.length === 0) return out;
    const rows = (
      await this.q(
        `SELECT r.run_id, array_agg(st.task_name) AS tasks FROM ${this.s}.runs r
         LEFT JOIN ${this.s}.active_dags a ON a.dag_name = r.dag_name
         LEFT JOIN ${this.s}.registrations g ON r.dag_name IS NULL AND g.database_id = r.database_id
         JOIN ${this.s}.snapshot_tasks st ON st.snapshot_id = coalesce(a.snapshot_id, g.snapshot_id)
         WHERE r.run_id = ANY($1) GROUP BY r.run_id`,
        [[...runIds]],
      )
    ).rows;
    for (const r of rows) out.set(String(r.run_id), new Set((r.tasks as string[]).map(String)));
    return out;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    return (await this.runRecords('WHERE r.run_id = $1', [id]))[0];
  }

  async findRuns(prefix: string, limit: number): Promise<RunRecord[]> {
    return this.runRecords('WHERE r.run_id LIKE $1 ORDER BY r.created_at DESC LIMIT $2', [
      `${prefix.toLowerCase().replace(/[%_\\]/g, '\\$&')}%`,
      limit,
    ]);
  }

  async listRuns(limit: number): Promise<RunRecord[]> {
    return this.runRecords('ORDER BY r.created_at DESC, r.run_id LIMIT $1', [limit]);
  }

  async failures(since: Date, limit: number, tasks?: readonly string[]): Promise<TaskFailures[]> {
    return (
      await this.q(
        `SELECT task_name, count(*) AS failures, (array_agg(error_message ORDER BY attempt_seq DESC))[1] AS last_error, max(finished_at) AS last_at
         FROM ${this.s}.attempts WHERE outcome = 'failed' AND finished_at >= $1 ${tasks ? 'AND task_name = ANY($3)' : ''}
         GROUP BY task_name ORDER BY failures DESC, last_at DESC LIMIT $2`,
        tasks ? [since, limit, [...tasks]] : [since, limit],
      )
    ).rows.map((r) => ({
      task: String(r.task_name),
      failures: Number(r.failures),
      lastError: (r.last_error as string | null) ?? null,
      lastFailedAt: toDate(r.last_at)!,
    }));
  }

  async listJobs(q: JobQuery): Promise<JobRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.task !== undefined) where.push(`task_name = $${params.push(q.task)}`);
    if (q.tasks !== undefined) where.push(`task_name = ANY($${params.push([...q.tasks])})`);
    if (q.runId !== undefined) where.push(`run_id = $${params.push(q.runId)}`);
    if (q.states !== undefined) where.push(`state = ANY($${params.push([...q.states])})`);
    if (q.dag !== undefined) where.push(`dag_name = $${params.push(q.dag)}`);
    params.push(q.limit);
    return (
      await this.q(
        `SELECT * FROM ${this.s}.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, task_name LIMIT $${params.length}`,
        params,
      )
    ).rows.map((r) => jobFromRow(r, POSTGRES_ROWS));
  }

  async listAttempts(jobIds: readonly string[]): Promise<AttemptRecord[]> {
    if (jobIds.length === 0) return [];
    return (await this.q(`SELECT * FROM ${this.s}.attempts WHERE job_id = ANY($1) ORDER BY attempt_seq`, [[...jobIds]])).rows.map((r) =>
      attemptFromRow(r, POSTGRES_ROWS),
    );
  }

  async queueDepth(filter: { runId?: string; tasks?: readonly string[]; dag?: string } = {}): Promise<Partial<Record<JobState, number>>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.runId !== undefined) where.push(`run_id = $${params.push(filter.runId)}`);
    if (filter.tasks !== undefined) where.push(`task_name = ANY($${params.push([...filter.tasks])})`);
    if (filter.dag !== undefined) where.push(`dag_name = $${params.push(filter.dag)}`);
    const rows = (
      await this.q(
        `SELECT state, count(*) AS n FROM ${this.s}.jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY state`,
        params,
      )
    ).rows;
    const out: Partial<Record<JobState, number>> = {};
    for (const r of rows) if ((JOB_STATES as readonly string[]).includes(String(r.state))) out[r.state as JobState] = Number(r.n);
    return out;
  }

  private states(table: 'task_state' | 'asset_state', where: string, params: unknown[]): Promise<PartitionState[]> {
    const name = table === 'task_state' ? 'task_name' : 'asset_name';
    return this.q(
      `SELECT ${name} AS name, partition_key, state, updated_at, last_success_at, rows_count, code_version FROM ${this.s}.${table} ${where}`,
      params,
    ).then((r) => r.rows.map((x) => partitionStateFromRow(x, String(x.name))));
  }

  assetStates(asset?: string): Promise<PartitionState[]> {
    return asset === undefined
      ? this.states('asset_state', 'ORDER BY asset_name, partition_key', [])
      : this.states('asset_state', 'WHERE asset_name = $1 ORDER BY partition_key', [asset]);
  }

  async partitionRanges(asset: string): Promise<StoredPartitionRanges | undefined> {
    const row = (
      await this.q(`SELECT space_key, through, ranges_json FROM ${this.s}.asset_partition_ranges WHERE asset_name = $1`, [asset])
    ).rows[0];
    if (!row) return undefined;
    return {
      asset,
      spaceKey: String(row.space_key),
      through: toDate(row.through)!,
      ranges: row.ranges_json as StoredPartitionRanges['ranges'],
    };
  }

  async savePartitionRanges(r: StoredPartitionRanges): Promise<void> {
    await this.q(
      `INSERT INTO ${this.s}.asset_partition_ranges VALUES ($1, $2, $3, $4)
       ON CONFLICT (asset_name) DO UPDATE SET space_key = EXCLUDED.space_key, through = EXCLUDED.through, ranges_json = EXCLUDED.ranges_json`,
      [r.asset, r.spaceKey, r.through, JSON.stringify(r.ranges)],
    );
  }

  async assetMaterializations(
    asset: string,
    options: { limit: number; partitionKey?: string; since?: Date },
  ): Promise<MaterializationRecord[]> {
    const params: unknown[] = [asset, options.limit];
    const partition =
      (options.partitionKey === undefined ? '' : `AND partition_key = $${params.push(options.partitionKey)}`) +
      (options.since === undefined ? '' : ` AND finished_at >= $${params.push(options.since)}`);
    return (
      await this.q(
        `SELECT ${MATERIALIZATION_SELECT} FROM ${this.s}.asset_materializations WHERE asset_name = $1 ${partition}
         ORDER BY finished_at DESC LIMIT $2`,
        params,
      )
    ).rows.map(materializationFromRow);
  }

  async latestMaterializations(asset?: string): Promise<LatestMaterialization[]> {
    return (
      await this.q(
        `SELECT asset_name, partition_key, state, updated_at, last_success_at, run_id, job_id, rows_count, code_version
         FROM ${this.s}.asset_latest ${asset === undefined ? '' : 'WHERE asset_name = $1'} ORDER BY asset_name`,
        asset === undefined ? [] : [asset],
      )
    ).rows.map(latestFromRow);
  }

  async partitionChanges(asset: string, since: Date): Promise<Array<{ partitionKey: string; status: 'succeeded' | 'dead'; at: Date }>> {
    return (
      await this.q(
        `SELECT DISTINCT ON (partition_key) partition_key, status, finished_at FROM ${this.s}.asset_materializations
         WHERE asset_name = $1 AND finished_at >= $2 ORDER BY partition_key, finished_at DESC`,
        [asset, since],
      )
    ).rows.map((r: Row) => ({
      partitionKey: String(r.partition_key),
      status: r.status === 'succeeded' ? ('succeeded' as const) : ('dead' as const),
      at: toDate(r.finished_at)!,
    }));
  }

  async inFlightPartitions(task: string): Promise<string[]> {
    return (
      await this.q(`SELECT partition_key FROM ${this.s}.jobs WHERE task_name = $1 AND state IN ('pending', 'processing', 'failed')`, [task])
    ).rows.map((r: Row) => String(r.partition_key));
  }

  async inFlightCounts(): Promise<Map<string, number>> {
    const { rows } = await this.q(
      `SELECT task_name, count(*)::int AS n FROM ${this.s}.jobs WHERE state IN ('pending', 'processing', 'failed') GROUP BY task_name`,
    );
    return new Map(rows.map((r: Row) => [String(r.task_name), Number(r.n)]));
  }

  async recordCheckResults(results: readonly CheckResultRecord[]): Promise<void> {
    if (results.length === 0) return;
    await this.q(
      `INSERT INTO ${this.s}.asset_check_results (${CHECK_RESULT_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
         $10::text[], $11::timestamptz[])`,
      CHECK_RESULT_COLUMNS.map((_, i) => results.map((r) => checkResultValues(r)[i])),
    );
  }

  async checkHistory(asset: string, limit: number): Promise<CheckResultRecord[]> {
    return (
      await this.q(
        `SELECT ${CHECK_RESULT_COLUMNS.join(', ')} FROM ${this.s}.asset_check_results WHERE asset_name = $1 ORDER BY checked_at DESC LIMIT $2`,
        [asset, limit],
      )
    ).rows.map(checkResultFromRow);
  }

  async assetActivity(since: Date): Promise<AssetActivity[]> {
    return (
      await this.q(
        `SELECT asset_name, count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded, count(*) FILTER (WHERE status <> 'succeeded')::int AS failed
         FROM ${this.s}.asset_materializations WHERE finished_at >= $1 GROUP BY asset_name ORDER BY asset_name`,
        [since],
      )
    ).rows.map((r: Record<string, unknown>) => ({ name: String(r.asset_name), succeeded: Number(r.succeeded), failed: Number(r.failed) }));
  }

  async assetSummaries(asset?: string): Promise<AssetSummary[]> {
    return (
      await this.q(
        `SELECT asset_name, count(*) AS partitions, (array_agg(state ORDER BY updated_at DESC))[1] AS state, max(updated_at) AS updated_at,
                max(last_success_at) AS last_success_at
         FROM ${this.s}.asset_state ${asset === undefined ? '' : 'WHERE asset_name = $1'} GROUP BY asset_name ORDER BY asset_name`,
        asset === undefined ? [] : [asset],
      )
    ).rows.map(assetSummaryFromRow);
  }

  async taskStates(): Promise<PartitionState[]> {
    return (
      await this.q(
        `SELECT DISTINCT ON (task_name) task_name, partition_key, state, updated_at,
           max(last_success_at) OVER (PARTITION BY task_name) AS last_success_at, rows_count, code_version
         FROM ${this.s}.task_state ORDER BY task_name, updated_at DESC`,
      )
    ).rows.map((x) => partitionStateFromRow(x, String(x.task_name)));
  }

  async lastWatermark(task: string, partitionKey = DEFAULT_PARTITION): Promise<string | null> {
    const row = (
      await this.q(`SELECT last_processed_at FROM ${this.s}.task_state WHERE task_name = $1 AND partition_key = $2`, [task, partitionKey])
    ).rows[0];
    return (row?.last_processed_at as string | null | undefined) ?? null;
  }
}

/**
 * The embedded ledger's buffered writes: job, run and attempt changes collected in memory and
 * written in one transaction per batch (at most every FLUSH_DELAY_MS, or when a read needs
 * them), with the history they make and the journal rows they settle. One lane on the writing
 * connection keeps batches, enqueues and snapshots from interleaving. `DuckDbLedger` fills the
 * buffers.
 */
import { CHECK_RESULT_COLUMNS, checkResultValues } from '../rows.js';
import { CHECK_RESULT_TYPES } from './ledger-rows.js';
import { DEFAULT_PARTITION, type CheckResultRecord, type StoredPartitionRanges } from '../ledger.js';
import type { JobRecord, RunRecord } from '../ledger.js';
import type { Row } from '../rows.js';
import { listValue } from '../../duckdb-api.js';
import { DuckDbSnapshots } from './ledger-snapshots.js';
import {
  ASSET_STATE_COLUMNS,
  ATTEMPT_TYPES,
  JOB_COLUMNS,
  MATERIALIZATION_COLUMNS,
  TASK_STATE_COLUMNS,
  attemptRow,
  jobRow,
  key,
  type AttemptRow,
  type Settled,
} from './ledger-rows.js';
import { inTransaction, insertRows, type ColumnTypes } from './sql-util.js';

/** The columns of a job row written once, with the job (see `updateJobs`). */
const FIXED_JOB_COLUMNS = new Set(['pipeline_run_id', 'task_name', 'partition_key', 'created_at', 'upstream', 'database_id']);

/** How long buffered writes wait, so that a burst of completions is written once. */
const FLUSH_DELAY_MS = 200;

export abstract class DuckDbWrites extends DuckDbSnapshots {
  /** Jobs changed since the last batch, by id. */
  protected dirtyJobs = new Map<string, JobRecord>();
  protected dirtyRuns = new Set<string>();
  protected bufferedAttempts: AttemptRow[] = [];
  protected settled: Settled[] = [];
  /** The settled jobs of the batch being written. */
  protected writing: readonly Settled[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private lane: Promise<void> = Promise.resolve();
  /**
   * Jobs whose success was journalled in their task's transaction since the last flush. A flush
   * moves exactly these journal rows, in the transaction that writes their job rows: a success
   * is always in one place, the journal or the job and attempt rows, never half in each.
   */
  protected journalled = new Set<string>();

  /** A run the ledger holds in memory, as it is now. */
  protected abstract activeRun(id: string): RunRecord | undefined;
  /** Drops a finished run from memory, once a batch has recorded it finished. */
  protected abstract forgetRun(id: string): void;

  /** Writes buffered job, run and attempt changes and the history they make, in one transaction. */
  flush(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    return this.exclusive(() => this.writeBuffered());
  }

  /**
   * Runs `fn` alone on the writing connection: a flush, an enqueue or a snapshot from another
   * caller (the process's own worker, a command arriving on its socket) waits its turn, so
   * their transactions never interleave on one connection.
   */
  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.lane.then(fn);
    this.lane = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  protected scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush().catch(() => undefined);
    }, FLUSH_DELAY_MS);
    this.flushTimer.unref();
  }

  protected async writeBuffered(): Promise<void> {
    if (
      this.dirtyJobs.size === 0 &&
      this.dirtyRuns.size === 0 &&
      this.bufferedAttempts.length === 0 &&
      this.settled.length === 0 &&
      this.journalled.size === 0
    )
      return;
    const journalled = this.journalled;
    this.journalled = new Set();
    const dirtyJobs = this.dirtyJobs;
    const dirtyRuns = this.dirtyRuns;
    const buffered = this.bufferedAttempts;
    const jobs = [...dirtyJobs.values()].map((j) => jobRow(j, null));
    const attempts = buffered.map(attemptRow);
    const settled = this.settled;
    // Copies, taken now: a run that finishes while this batch is written must stay in memory
    // (and dirty) until a batch records it finished.
    const runs = [...this.dirtyRuns]
      .map((id) => this.activeRun(id))
      .filter((r): r is RunRecord => r !== undefined)
      .map((r) => ({ ...r, counts: { ...r.counts } }));
    this.dirtyJobs = new Map();
    this.dirtyRuns = new Set();
    this.bufferedAttempts = [];
    this.settled = [];
    this.writing = settled;
    await inTransaction(this.conn, async () => {
      await insertRows(this.conn, 'attempts', ATTEMPT_TYPES, attempts, (r) => r);
      await this.updateJobs(jobs);
      await this.writeHistory(settled);
      await this.updateRuns(runs);
      if (journalled.size > 0) await this.moveJournal(journalled);
    })
      .catch((err: unknown) => {
        // Nothing of the batch was written: keep it for the next flush rather than lose it.
        for (const [id, job] of dirtyJobs) if (!this.dirtyJobs.has(id)) this.dirtyJobs.set(id, job);
        for (const id of dirtyRuns) this.dirtyRuns.add(id);
        this.bufferedAttempts = [...buffered, ...this.bufferedAttempts];
        this.settled = [...settled, ...this.settled];
        for (const id of journalled) this.journalled.add(id);
        throw err;
      })
      .finally(() => (this.writing = []));
    this.afterWritten([...dirtyJobs.values()]);
    // Runs that finished leave memory once written.
    for (const r of runs) if (r.finishedAt !== null) this.forgetRun(r.id);
  }

  /** Jobs whose changes a batch has just written (what memory may now let go of). */
  protected afterWritten(_jobs: readonly JobRecord[]): void {
    // Nothing by default.
  }

  /**
   * The journal rows of these jobs become typed `attempts` rows, in the transaction that writes
   * the jobs' rows. Only these: a success journalled while the batch was being written has its
   * job row in the next batch, and its journal row must wait for it (else a crash in between
   * leaves a job `processing` whose success is nowhere the recovery looks).
   */
  protected async moveJournal(jobIds: ReadonlySet<string>): Promise<void> {
    const names = Object.keys(ATTEMPT_TYPES);
    const ids = listValue([...jobIds]);
    const mine = `record::JSON ->> 'job_id' IN (SELECT unnest($1::VARCHAR[]))`;
    await this.conn.run(
      `INSERT INTO __orch__.attempts (${names.join(', ')}) SELECT ${names.map((n) => `r.${n}`).join(', ')}
       FROM (SELECT from_json(record, '${JSON.stringify(ATTEMPT_TYPES)}') AS r FROM __orch__.ledger_journal WHERE ${mine})`,
      [ids],
    );
    await this.conn.run(`DELETE FROM __orch__.ledger_journal WHERE ${mine}`, [ids]);
  }

  /** The runs' states and counts, in one statement whatever their number (one per run cost a millisecond each). */
  protected async updateRuns(runs: readonly RunRecord[]): Promise<void> {
    if (runs.length === 0) return;
    const columns: ColumnTypes = {
      pipeline_run_id: 'VARCHAR',
      state: 'VARCHAR',
      started_at: 'TIMESTAMP',
      finished_at: 'TIMESTAMP',
      job_counts_json: 'VARCHAR',
    };
    const rows = runs.map((r) => ({
      pipeline_run_id: r.id,
      state: r.state,
      started_at: r.startedAt,
      finished_at: r.finishedAt,
      job_counts_json: JSON.stringify(r.counts),
    }));
    for (let i = 0; i < rows.length; i += 1000)
      await this.conn.run(
        `UPDATE __orch__.pipeline_runs AS p SET state = u.state, started_at = u.started_at, finished_at = u.finished_at,
           job_counts_json = u.job_counts_json
         FROM (SELECT r.* FROM (SELECT unnest(from_json($1::JSON, '${JSON.stringify([columns])}')) AS r)) AS u
         WHERE p.pipeline_run_id = u.pipeline_run_id`,
        [JSON.stringify(rows.slice(i, i + 1000))],
      );
  }

  protected async updateJobs(rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    // What a job is never changes once it is written (its run, task, partition, upstream tasks,
    // creation and database): only the rest is set. DuckDB updates a list column by deleting and
    // inserting the row again, index entries included, which cost most of the statement.
    const updated = Object.fromEntries(Object.entries(JOB_COLUMNS).filter(([c]) => !FIXED_JOB_COLUMNS.has(c)));
    const cols = Object.keys(updated).filter((c) => c !== 'job_id');
    const structure = JSON.stringify([updated]);
    for (let i = 0; i < rows.length; i += 1000) {
      await this.conn.run(
        `UPDATE __orch__.jobs AS j SET ${cols.map((c) => `${c} = u.${c}`).join(', ')}
         FROM (SELECT ${Object.keys(updated)
           .map((c) => `r.${c}`)
           .join(', ')} FROM (SELECT unnest(from_json($1::JSON, '${structure}')) AS r)) AS u
         WHERE j.job_id = u.job_id`,
        [JSON.stringify(rows.slice(i, i + 1000))],
      );
    }
  }

  /** Materialisations and the latest state per task and asset × partition, for jobs that settled. */
  protected async writeHistory(settled: readonly Settled[]): Promise<void> {
    if (settled.length === 0) return;
    const materialized = settled.filter((s) => s.job.state === 'succeeded' || s.job.state === 'dead');
    await insertRows(
      this.conn,
      'asset_materializations',
      MATERIALIZATION_COLUMNS,
      materialized.flatMap((s) => s.assets.map((asset, i) => ({ s, asset, primary: i === 0 }))),
      ({ s, asset, primary }) => ({
        asset_name: asset,
        partition_key: s.job.partitionKey,
        status: s.job.state === 'succeeded' ? 'succeeded' : 'failed',
        rows: primary ? s.job.rows : null,
        bytes: null,
        code_version: s.job.codeVersion,
        run_id: s.job.runId,
        job_id: s.job.id,
        attempt: s.job.attempts,
        task_name: s.job.task,
        started_at: s.job.startedAt,
        finished_at: s.job.finishedAt,
        materialized_at: s.job.finishedAt,
      }),
    );
    // One row per key and statement: the latest settled job wins.
    const latestTask = new Map<string, Settled>();
    for (const s of settled) latestTask.set(key(s.job.task, s.job.partitionKey), s);
    const taskRows = [...latestTask.values()].map(({ job }) => ({
      task_name: job.task,
      partition_key: job.partitionKey,
      state: job.state,
      updated_at: job.finishedAt ?? job.createdAt,
      last_success_at: job.state === 'succeeded' ? job.finishedAt : null,
      last_processed_at: job.state === 'succeeded' ? job.watermark : null,
      pipeline_run_id: job.runId,
      job_id: job.id,
      rows_count: job.rows,
      code_version: job.codeVersion,
    }));
    await this.upsert('task_state', TASK_STATE_COLUMNS, ['task_name', 'partition_key'], taskRows, ['last_success_at', 'last_processed_at']);
    const latestAsset = new Map<string, Row>();
    for (const s of materialized)
      s.assets.forEach((asset, i) =>
        latestAsset.set(key(asset, s.job.partitionKey), {
          asset_name: asset,
          partition_key: s.job.partitionKey,
          state: s.job.state,
          updated_at: s.job.finishedAt,
          last_success_at: s.job.state === 'succeeded' ? s.job.finishedAt : null,
          pipeline_run_id: s.job.runId,
          job_id: s.job.id,
          rows_count: i === 0 ? s.job.rows : null,
          code_version: s.job.codeVersion,
        }),
      );
    await this.upsert('asset_state', ASSET_STATE_COLUMNS, ['asset_name', 'partition_key'], [...latestAsset.values()], ['last_success_at']);
    // The same, per asset over its partitions: the last settled wins.
    const perAsset = new Map<string, Row>();
    for (const row of latestAsset.values()) perAsset.set(String(row.asset_name), row);
    await this.upsert('asset_latest', ASSET_STATE_COLUMNS, ['asset_name'], [...perAsset.values()], ['last_success_at']);
  }

  /** Insert or update by key; `sticky` columns keep their value when the new one is null (the last success). */
  protected async upsert(
    table: string,
    columns: ColumnTypes,
    keys: readonly string[],
    rows: readonly Row[],
    sticky: readonly string[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const names = Object.keys(columns);
    const structure = JSON.stringify([columns]);
    const sets = names
      .filter((c) => !keys.includes(c))
      .map((c) => (sticky.includes(c) ? `${c} = coalesce(excluded.${c}, ${table}.${c})` : `${c} = excluded.${c}`));
    for (let i = 0; i < rows.length; i += 1000) {
      await this.conn.run(
        `INSERT INTO __orch__.${table} (${names.join(', ')}) SELECT ${names.map((n) => `r.${n}`).join(', ')}
         FROM (SELECT unnest(from_json($1::JSON, '${structure}')) AS r)
         ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${sets.join(', ')}`,
        [JSON.stringify(rows.slice(i, i + 1000))],
      );
    }
  }

  async recordCheckResults(results: readonly CheckResultRecord[]): Promise<void> {
    if (results.length === 0) return;
    await this.exclusive(() =>
      insertRows(this.conn, 'asset_check_results', CHECK_RESULT_TYPES, results, (r) =>
        Object.fromEntries(CHECK_RESULT_COLUMNS.map((c, i) => [c, checkResultValues(r)[i]])),
      ),
    );
  }

  async savePartitionRanges(r: StoredPartitionRanges): Promise<void> {
    await this.exclusive(() =>
      inTransaction(this.conn, async () => {
        await this.conn.run('DELETE FROM __orch__.asset_partition_ranges WHERE asset_name = $1', [r.asset]);
        await this.conn.run('INSERT INTO __orch__.asset_partition_ranges VALUES ($1, $2, $3::TIMESTAMP, $4)', [
          r.asset,
          r.spaceKey,
          r.through.toISOString(),
          JSON.stringify(r.ranges),
        ]);
      }),
    );
  }

  async lastWatermark(task: string, partitionKey = DEFAULT_PARTITION): Promise<string | null> {
    // A success not yet written (or being written) is newer than the state table: no flush on a task's path.
    for (const batch of [this.settled, this.writing])
      for (let i = batch.length - 1; i >= 0; i--) {
        const { job } = batch[i]!;
        if (job.task === task && job.partitionKey === partitionKey && job.state === 'succeeded') return job.watermark;
      }
    const row = (
      await this.reader.runAndReadAll('SELECT last_processed_at FROM __orch__.task_state WHERE task_name = $1 AND partition_key = $2', [
        task,
        partitionKey,
      ])
    ).getRows()[0];
    return row ? ((row[0] as string | null) ?? null) : null;
  }

  // ---------------------------------------------------------------- in-memory state
}

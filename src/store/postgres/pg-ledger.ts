/**
 * The ledger on PostgreSQL, shared by workers on many machines. Every transition is one
 * transaction of SQL, so any number of processes may claim and complete at once:
 *
 * - a claim takes ready jobs only (`waiting = 0`, a partial index), `FOR UPDATE SKIP LOCKED`, so
 *   claimers never wait for each other and never read the backlog;
 * - a completion decrements its downstream jobs' `waiting` in the same transaction (Orchex
 *   unblocked in a second one and could lose it);
 * - a job whose worker died is taken back once its lease has run out (`reapExpired`, which every
 *   worker calls), keeping the attempt's real start in a `lost` attempt row.
 *
 * Times are the callers' (`now`), never the server's, so that tests drive the clock.
 */
import pg from 'pg';
import { DuckorchError } from '../../errors.js';
import { PgRetries } from './pg-retries.js';
import { LATEST_SET } from './pg-history.js';
import { type JobState } from '../../model/jobs/job-state.js';
import {
  type ClaimOptions,
  type ClaimedJob,
  type Completion,
  type DueFilter,
  type FailureOutcome,
  type HeartbeatResult,
  type JobRecord,
  type JsonValue,
  type Ledger,
  type SuccessOutcome,
} from '../ledger.js';
import type { DataTransaction } from '../ledger.js';
import { POSTGRES_ROWS, jobFromRow, toDate, type Row } from '../rows.js';
import { completionMarkerSql } from '../duckdb/completion-markers.js';
import { commitSql } from '../duckdb/sql-util.js';
import { isConnectionError } from './connect.js';

type Client = pg.PoolClient;

/** `AND dag_name …` for a claim: one DAG's jobs, or (null) only jobs of no DAG. */
function dagFilter(dag: string | null | undefined, params: unknown[], alias = ''): string[] {
  if (dag === undefined) return [];
  return dag === null ? [`AND ${alias}dag_name IS NULL`] : [`AND ${alias}dag_name = $${params.push(dag)}`];
}

/** Backoff of the LISTEN connection's reconnects (doubling from the base, capped, with jitter). */
const LISTEN_RETRY_BASE_MS = 250;
const LISTEN_RETRY_MAX_MS = 10_000;

/** The outcome of completions: the jobs that were held, the blocked jobs they free, whether they woke workers. */
const COMPLETION_SUMMARY = `SELECT (SELECT coalesce(array_agg(job_id), '{}') FROM done) AS held,
         (SELECT coalesce(array_agg(job_id), '{}') FROM downstream WHERE state = 'blocked' AND waiting = 0) AS unblock,
         (SELECT count(*) FROM wake)::int AS woke`;

/** A `task_state` or `asset_state` row. */
function claimedJobs(rows: readonly Row[]): ClaimedJob[] {
  return rows
    .map((r) => ({
      ...jobFromRow(r, POSTGRES_ROWS),
      snapshotId: String(r.snapshot_id ?? ''),
      runInputs: (r.run_inputs as JsonValue | undefined) ?? null,
      database: (r.database_id as string | null | undefined) ?? null,
    }))
    .sort((a, b) => a.runAt.getTime() - b.runAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime());
}

/**
 * Jobs of no database, or of one of `databases`. A worker holding none reads only the ready jobs
 * that need none (their own partial index), not the backlog of databases other workers hold.
 */
function databaseFilter(databases: ReadonlySet<string>, params: unknown[], alias = ''): string {
  if (databases.size === 0) return `AND ${alias}database_id IS NULL`;
  return `AND (${alias}database_id IS NULL OR ${alias}database_id = ANY($${params.push([...databases])}))`;
}

/** A claim that met `jobs_one_writer`: another claim took a job of the same task and partition at the same instant. */
function isOneWriterConflict(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && e.constraint === 'jobs_one_writer';
}

export interface PgLedgerOptions {
  /** The schema holding the ledger's tables (created by `migrate`). */
  schema: string;
  /** Called between a job's data commit and its completion: the window the completion marker covers (tests crash there). */
  afterDataCommit?: (job: ClaimedJob) => void;
  /** The connections' `statement_timeout`, to name it when PostgreSQL cancels a statement. */
  statementTimeoutMs?: number;
}

export class PgLedger extends PgRetries implements Ledger {
  private readonly afterDataCommit: ((job: ClaimedJob) => void) | undefined;

  constructor(pool: pg.Pool, options: PgLedgerOptions) {
    super(pool, options.schema, options.statementTimeoutMs);
    this.afterDataCommit = options.afterDataCommit;
  }

  // ---------------------------------------------------------------- runs and jobs

  async claim(o: ClaimOptions): Promise<ClaimedJob[]> {
    for (let tries = 0; ; tries++) {
      const params: unknown[] = [];
      const claim = this.claimCtes(o, params);
      try {
        return claimedJobs((await this.prepared('claim', `WITH ${claim} SELECT * FROM claimed`, params)).rows);
      } catch (err) {
        // Another claim took a job of the same task and partition in the same instant: look again.
        if (!isOneWriterConflict(err) || tries >= 5) throw err;
      }
    }
  }

  /**
   * `ready` and `claimed`: up to `limit` ready jobs (partial index, `SKIP LOCKED`, oldest first)
   * leased to the worker, with what the runner needs of their run. Adds its values to `params`.
   */
  private claimCtes(o: ClaimOptions, params: unknown[], guard = ''): string {
    const p = (v: unknown) => `$${params.push(v)}`;
    const now = p(o.now);
    const filters = [
      o.runId !== undefined ? `AND run_id = ${p(o.runId)}` : '',
      o.tasks !== undefined ? `AND task_name = ANY(${p([...o.tasks])})` : '',
      ...dagFilter(o.dag, params),
      o.databases !== undefined ? databaseFilter(o.databases, params) : '',
    ].join(' ');
    // A job that writes a database waits while another job of its task and partition runs (and
    // of two such ready ones, one is taken): `jobs_one_writer` makes that a guarantee.
    return `ready AS (
           SELECT job_id, database_id, task_name, partition_key, run_at, created_at FROM ${this.s}.jobs j
           WHERE state IN ('pending', 'failed') AND waiting = 0 AND run_at <= ${now} ${filters} ${guard}
             AND (database_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM ${this.s}.jobs w WHERE w.state = 'processing' AND w.database_id IS NOT NULL
                 AND w.database_id = j.database_id AND w.task_name = j.task_name AND w.partition_key = j.partition_key))
           ORDER BY run_at, created_at LIMIT ${p(o.limit)} FOR UPDATE SKIP LOCKED
         ), chosen AS (
           SELECT job_id FROM ready WHERE database_id IS NULL
           UNION ALL
           (SELECT DISTINCT ON (database_id, task_name, partition_key) job_id FROM ready WHERE database_id IS NOT NULL
            ORDER BY database_id, task_name, partition_key, run_at, created_at)
         ), claimed AS (
           UPDATE ${this.s}.jobs j SET state = 'processing', attempts = j.attempts + 1, lease_owner = ${p(o.worker)},
             lease_expires_at = ${p(new Date(o.now.getTime() + o.leaseMs))}, started_at = ${now}, finished_at = NULL, updated_at = ${now}
           FROM chosen WHERE j.job_id = chosen.job_id
           RETURNING j.*, (SELECT snapshot_id FROM ${this.s}.runs r WHERE r.run_id = j.run_id) AS snapshot_id,
                          (SELECT inputs FROM ${this.s}.runs r WHERE r.run_id = j.run_id) AS run_inputs
         )`;
  }

  async heartbeat(worker: string, jobIds: readonly string[], leaseMs: number, now: Date): Promise<HeartbeatResult> {
    if (jobIds.length === 0) return { lost: [], cancelled: [] };
    const rows = (
      await this.q(
        `WITH held AS MATERIALIZED (
           SELECT job_id FROM ${this.s}.jobs WHERE job_id = ANY($1) AND lease_owner = $2 AND state = 'processing' ORDER BY job_id FOR UPDATE
         )
         UPDATE ${this.s}.jobs j SET lease_expires_at = $3 FROM held WHERE j.job_id = held.job_id RETURNING j.job_id, j.cancel_requested`,
        [[...jobIds], worker, new Date(now.getTime() + leaseMs)],
      )
    ).rows;
    const held = new Set(rows.map((r) => String(r.job_id)));
    return {
      lost: jobIds.filter((id) => !held.has(id)),
      cancelled: rows.filter((r) => r.cancel_requested === true).map((r) => String(r.job_id)),
    };
  }

  /** Locks the job and checks this worker holds it. */
  private async held(c: Client, id: string, worker: string): Promise<JobRecord> {
    const row = (await c.query(`SELECT * FROM ${this.s}.jobs WHERE job_id = $1 FOR UPDATE`, [id])).rows[0] as Row | undefined;
    if (!row) throw new DuckorchError('LEASE_LOST', `job ${id} does not exist`);
    const job = jobFromRow(row, POSTGRES_ROWS);
    if (job.state !== 'processing' || job.leaseOwner !== worker)
      throw new DuckorchError(
        // Another worker took it after this one's lease ran out, or an outcome sent again after a
        // broken connection was recorded the first time: this outcome is late.
        'LEASE_LOST',
        `job ${id} (${job.task}) is ${job.state}${job.leaseOwner ? ` and leased to ${job.leaseOwner}` : ''}, not held by ${worker}`,
      );
    return job;
  }

  async complete(claimed: ClaimedJob, worker: string, outcome: SuccessOutcome, now: Date, tx?: DataTransaction): Promise<void> {
    if (!tx) return this.record(claimed, worker, outcome, now);
    // The data lives in DuckDB: it commits first, with a marker saying so; the ledger records it
    // next. Should that fail (a crash, PostgreSQL unreachable, the lease taken over), the job
    // comes back and its next worker finds the marker and records it without running it again.
    await tx.connection.run(commitSql(tx, completionMarkerSql(claimed.id, claimed.attempts, now, outcome)));
    this.afterDataCommit?.(claimed);
    try {
      await this.record(claimed, worker, outcome, now);
    } catch (err) {
      // A lost connection is retried by the worker, recording only (see runtime/reconnect.ts).
      if (err instanceof DuckorchError && err.code === 'DB_UNAVAILABLE') throw err;
      throw new DuckorchError(
        'LEASE_LOST',
        `job ${claimed.id} (${claimed.task}) committed its data, but its completion was not recorded: ${err instanceof Error ? err.message : String(err)}; ` +
          'it comes back when its lease runs out and is recorded from its completion marker, without running again',
        { cause: err },
      );
    }
  }

  /** Records a success in the ledger (the data, if any, already committed). */
  private async record(claimed: ClaimedJob, worker: string, outcome: SuccessOutcome, now: Date): Promise<void> {
    const params = this.completionParams([{ job: claimed, outcome }], worker, now);
    const row = (await this.prepared('complete', `WITH ${this.completionCtes()} ${COMPLETION_SUMMARY}`, params)).rows[0]!;
    if ((row.held as string[]).length === 0) {
      // A completion sent again because the connection broke before its reply may have committed
      // the first time: the guard above refused to apply it twice, and it is this worker's success.
      if ((await this.succeededBy([claimed], worker)).size > 0) return;
      // Not held: say by whom, or in what state (the rare path pays for the second query).
      await this.tx((c) => this.held(c, claimed.id, worker));
      throw new DuckorchError('LEASE_LOST', `job ${claimed.id} was not held by ${worker}`);
    }
    await this.afterCompletion(row, now);
    this.wakeLocally([claimed]);
  }

  /**
   * Completions and the worker's next claim in one statement, one round trip: a busy worker
   * hands the freed slots straight to ready jobs, and jobs that end together are recorded
   * together. Claims nothing when none of the jobs was held.
   */
  async completeAndClaim(
    worker: string,
    completions: readonly Completion[],
    now: Date,
    next: ClaimOptions,
  ): Promise<{ claimed: ClaimedJob[]; lost: string[] }> {
    const params = this.completionParams(completions, worker, now);
    const claim = this.claimCtes(next, params, 'AND EXISTS (SELECT 1 FROM done)');
    let rows: Row[];
    try {
      rows = (
        await this.prepared(
          'complete-claim',
          `WITH ${this.completionCtes()}, ${claim}, summary AS (${COMPLETION_SUMMARY})
           SELECT summary.*, claimed.* FROM summary LEFT JOIN claimed ON true`,
          params,
        )
      ).rows;
    } catch (err) {
      // The claim met another of the same task and partition (see `claim`): the completions
      // go alone, the claim after them.
      if (!isOneWriterConflict(err) || next.limit === 0) throw err;
      const recorded = await this.completeAndClaim(worker, completions, now, { ...next, limit: 0 });
      const held = recorded.lost.length < completions.length;
      return { claimed: held ? await this.claim(next) : [], lost: recorded.lost };
    }
    const held = new Set((rows[0]!.held as string[]).map(String));
    await this.afterCompletion(rows[0]!, now);
    const notHeld = completions.filter((c) => !held.has(c.job.id)).map((c) => c.job);
    // As in `complete`: sent again after a lost reply, those the first try recorded are not lost.
    const mine = notHeld.length > 0 ? await this.succeededBy(notHeld, worker) : new Set<string>();
    this.wakeLocally(completions.map((c) => c.job));
    return {
      claimed: claimedJobs(rows.filter((r) => r.job_id !== null && r.job_id !== undefined)),
      lost: notHeld.filter((j) => !mine.has(j.id)).map((j) => j.id),
    };
  }

  private completionParams(completions: readonly Completion[], worker: string, now: Date): unknown[] {
    return [
      completions.map((c) => c.job.id),
      worker,
      now,
      completions.map((c) => c.outcome.rows),
      completions.map((c) => JSON.stringify(c.outcome.result)),
      completions.map((c) => c.outcome.watermark),
      completions.map((c) => c.outcome.codeVersion),
      completions.map((c) => JSON.stringify(c.outcome.assets)),
      this.channelName,
    ];
  }

  /**
   * Successes as data-modifying CTEs (they see one snapshot and commit as one): the jobs, their
   * attempts, their history and their downstream counts change together. Parameters $1–$9 are
   * `completionParams` (one array element per job); `done` holds the jobs the worker did hold.
   * Two jobs of one task and partition (of two runs) may end in one batch: the latest-state
   * upserts take one of them each, as a statement may not update a row twice. Rows are locked in
   * job-id order (the jobs, then the jobs waiting for them), as heartbeats and hand-backs lock
   * them too, so that concurrent batches never wait on each other in a cycle (a deadlock).
   */
  private completionCtes(): string {
    const s = this.s;
    return `input AS (
           SELECT * FROM unnest($1::text[], $4::bigint[], $5::jsonb[], $6::text[], $7::text[], $8::jsonb[])
             AS x(id, rows_count, result, watermark, code_version, assets)
         ), held AS MATERIALIZED (
           SELECT job_id FROM ${s}.jobs WHERE job_id = ANY($1::text[]) ORDER BY job_id FOR UPDATE
         ), done AS (
           UPDATE ${s}.jobs j SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = $3, updated_at = $3,
             rows_count = x.rows_count, result = x.result, last_processed_at = x.watermark, error_message = NULL, error_context = NULL,
             code_version = x.code_version
           FROM input x WHERE j.job_id = x.id AND j.job_id IN (SELECT job_id FROM held) AND j.state = 'processing' AND j.lease_owner = $2
           RETURNING j.*, x.assets AS outcome_assets
         ), attempt AS (
           INSERT INTO ${s}.attempts (job_id, run_id, task_name, partition_key, attempt, worker, started_at, finished_at, outcome, job_state,
             rows_count, result, last_processed_at, code_version, assets)
           SELECT job_id, run_id, task_name, partition_key, attempts, $2, coalesce(started_at, $3), $3, 'succeeded', 'succeeded',
             rows_count, result, last_processed_at, code_version, ARRAY(SELECT jsonb_array_elements_text(outcome_assets)) FROM done
         ), recorded AS (
           INSERT INTO ${s}.task_state
           SELECT DISTINCT ON (task_name, partition_key) task_name, partition_key, 'succeeded', $3, $3, last_processed_at, run_id, job_id,
             rows_count, code_version
           FROM done ORDER BY task_name, partition_key, job_id
           ON CONFLICT (task_name, partition_key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
             last_success_at = EXCLUDED.last_success_at, last_processed_at = EXCLUDED.last_processed_at, run_id = EXCLUDED.run_id,
             job_id = EXCLUDED.job_id, rows_count = EXCLUDED.rows_count, code_version = EXCLUDED.code_version
         ), done_assets AS (
           SELECT done.*, a.asset, CASE WHEN a.i = 1 THEN done.rows_count END AS asset_rows
           FROM done, jsonb_array_elements_text(done.outcome_assets) WITH ORDINALITY AS a(asset, i)
         ), materialized AS (
           INSERT INTO ${s}.asset_materializations (asset_name, partition_key, finished_at, job_id, rows, status, run_id, task_name,
             code_version, started_at, attempt)
           SELECT asset, partition_key, $3, job_id, asset_rows, 'succeeded', run_id, task_name, code_version, coalesce(started_at, $3), attempts
           FROM done_assets
         ), asset_state_rows AS (
           INSERT INTO ${s}.asset_state
           SELECT DISTINCT ON (asset, partition_key) asset, partition_key, 'succeeded', $3, $3, run_id, job_id, asset_rows, code_version
           FROM done_assets ORDER BY asset, partition_key, job_id
           ON CONFLICT (asset_name, partition_key) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at,
             last_success_at = EXCLUDED.last_success_at, run_id = EXCLUDED.run_id, job_id = EXCLUDED.job_id,
             rows_count = EXCLUDED.rows_count, code_version = EXCLUDED.code_version
         ), asset_latest_rows AS (
           INSERT INTO ${s}.asset_latest
           SELECT DISTINCT ON (asset) asset, partition_key, 'succeeded', $3, $3, run_id, job_id, asset_rows, code_version
           FROM done_assets ORDER BY asset, job_id
           ON CONFLICT (asset_name) DO UPDATE SET ${LATEST_SET}
         ), released AS (
           SELECT d AS job_id, count(*)::int AS n FROM done, unnest(done.downstream) AS d GROUP BY d
         ), waiting_rows AS MATERIALIZED (
           SELECT job_id FROM ${s}.jobs WHERE job_id = ANY(ARRAY(SELECT job_id FROM released)) ORDER BY job_id FOR UPDATE
         ), downstream AS (
           UPDATE ${s}.jobs d SET waiting = d.waiting - r.n FROM released r
           WHERE d.job_id = r.job_id AND d.job_id IN (SELECT job_id FROM waiting_rows) AND d.state IN ('pending', 'failed', 'blocked')
           RETURNING d.job_id, d.state, d.waiting
         ), wake AS (
           SELECT pg_notify($9, '') FROM downstream WHERE waiting = 0 LIMIT 1
         )`;
  }

  /** Blocked jobs whose upstream jobs all succeeded again come back (a second, rare transaction). */
  private async afterCompletion(row: Row, now: Date): Promise<void> {
    const unblock = (row.unblock as string[]).map(String);
    if (unblock.length > 0) await this.tx((c) => this.unblock(c, unblock, now));
  }

  /** The jobs whose attempt (the one claimed) is recorded as succeeded by `worker`. */
  private async succeededBy(jobs: readonly ClaimedJob[], worker: string): Promise<Set<string>> {
    const rows = await this.q(
      `SELECT j.job_id FROM unnest($1::text[], $2::int[]) AS x(id, attempt)
       JOIN ${this.s}.jobs j ON j.job_id = x.id JOIN ${this.s}.attempts a ON a.job_id = x.id AND a.attempt = x.attempt
       WHERE j.state = 'succeeded' AND a.outcome = 'succeeded' AND a.worker = $3`,
      [jobs.map((j) => j.id), jobs.map((j) => j.attempts), worker],
    );
    return new Set(rows.rows.map((r) => String(r.job_id)));
  }

  async fail(
    claimed: ClaimedJob,
    worker: string,
    failure: FailureOutcome,
    now: Date,
  ): Promise<{ job: JobRecord; downstream: JobRecord[] }> {
    const out = await this.tx(async (c) => {
      const job = await this.held(c, claimed.id, worker);
      const maxAttempts = Math.max(1, failure.maxAttempts ?? job.maxAttempts);
      const state: JobState = failure.cancelled ? 'cancelled' : failure.retryable && job.attempts < maxAttempts ? 'failed' : 'dead';
      const runAt = state === 'failed' ? new Date(now.getTime() + failure.retryDelayMs) : job.runAt;
      const row = (
        await c.query(
          `UPDATE ${this.s}.jobs SET state = $2, lease_owner = NULL, lease_expires_at = NULL, finished_at = $3, updated_at = $3, run_at = $4,
             error_message = CASE WHEN cancel_requested AND $2 = 'cancelled' THEN coalesce(error_message, $5) ELSE $5 END,
             error_context = $6, code_version = $7, cancel_requested = false, max_attempts = $8
           WHERE job_id = $1 RETURNING *`,
          [job.id, state, now, runAt, failure.error, JSON.stringify(failure.errorContext), failure.codeVersion, maxAttempts],
        )
      ).rows[0]!;
      const after = jobFromRow(row, POSTGRES_ROWS);
      await this.recordAttempt(c, after, worker, now, failure.cancelled ? 'cancelled' : 'failed', state, failure.assets, {
        startedAt: job.startedAt,
      });
      let downstream: JobRecord[] = [];
      if (state === 'dead') {
        await this.recordHistory(c, after, failure.assets, now);
        downstream = await this.cascade(c, job, 'blocked', `upstream task \`${job.task}\` failed`, now);
      } else if (state === 'cancelled') {
        await this.recordHistory(c, after, [], now);
        downstream = await this.cascade(c, job, 'cancelled', `upstream task \`${job.task}\` was cancelled`, now);
      } else {
        await c.query(`NOTIFY ${this.channel}`);
      }
      return { job: after, downstream };
    });
    this.wakeLocally([claimed]);
    return out;
  }

  async skip(claimed: ClaimedJob, worker: string, reason: string, now: Date): Promise<void> {
    await this.tx(async (c) => {
      const job = await this.held(c, claimed.id, worker);
      await c.query(
        `UPDATE ${this.s}.jobs SET state = 'skipped', lease_owner = NULL, lease_expires_at = NULL, finished_at = $2, updated_at = $2, error_message = $3
         WHERE job_id = $1`,
        [job.id, now, reason],
      );
      await this.recordHistory(c, { ...job, state: 'skipped', finishedAt: now }, [], now);
      await this.satisfied(c, job, now);
    });
  }

  async release(worker: string, jobIds: readonly string[], now: Date): Promise<void> {
    if (jobIds.length === 0) return;
    await this.tx(async (c) => {
      const rows = (
        await c.query(
          `SELECT * FROM ${this.s}.jobs WHERE job_id = ANY($1) AND lease_owner = $2 AND state = 'processing' ORDER BY job_id FOR UPDATE`,
          [[...jobIds], worker],
        )
      ).rows.map((r) => jobFromRow(r, POSTGRES_ROWS));
      const [stopped, back] = [rows.filter((j) => j.cancelRequested), rows.filter((j) => !j.cancelRequested)];
      for (const job of back)
        await this.recordAttempt(c, { ...job, state: 'pending' }, worker, now, 'released', 'pending', [], { startedAt: job.startedAt });
      await c.query(
        `UPDATE ${this.s}.jobs SET state = 'pending', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL, run_at = $2, updated_at = $2
         WHERE job_id = ANY($1)`,
        [back.map((j) => j.id), now],
      );
      await this.endCancelled(c, stopped, 'released', now);
      await c.query(`NOTIFY ${this.channel}`);
    });
  }

  async flush(): Promise<void> {
    // Every transition is already committed.
  }

  /** The workers of this process, woken without a round trip through PostgreSQL. */
  private readonly local = new Set<() => void>();

  /**
   * A job that writes a database ended: another job of its task and partition may have waited
   * for it. Only the worker holding that database's lease claims its jobs, and that is this
   * process, so waking its own workers is enough (polling covers a lease changing hands).
   */
  private wakeLocally(jobs: ReadonlyArray<{ database: string | null }>): void {
    if (jobs.some((j) => j.database !== null)) for (const l of this.local) l();
  }

  /**
   * LISTEN on the schema's channel with a connection of its own (outside the pool). When that
   * connection is lost (the server restarted), or cannot be made at first for that reason, the
   * worker polls meanwhile and the LISTEN is set up again with capped, jittered backoff; the
   * listener is then called once, for what was missed.
   */
  async subscribe(listener: () => void): Promise<() => Promise<void>> {
    this.local.add(listener);
    let stopped = false;
    let current: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    const listen = async (): Promise<void> => {
      const client = new pg.Client(this.pool.options);
      current = client;
      client.on('notification', () => listener());
      // A lost connection must not crash the worker: 'end' follows, and brings the LISTEN back.
      client.on('error', () => undefined);
      client.on('end', () => dropped(client));
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      if (stopped) await client.end().catch(() => undefined);
    };
    // Called from 'end' and from a failed reconnect, whichever comes first: one retry per loss.
    const dropped = (client: pg.Client) => {
      if (stopped || current !== client) return;
      current = undefined;
      void client.end().catch(() => undefined);
      const delay = Math.min(LISTEN_RETRY_MAX_MS, LISTEN_RETRY_BASE_MS * 2 ** Math.min(failures++, 10)) * (0.5 + Math.random() / 2);
      timer = setTimeout(() => {
        const attempt = listen();
        attempt.then(
          () => {
            failures = 0;
            if (!stopped) listener();
          },
          () => {
            if (current) dropped(current);
          },
        );
      }, delay);
      timer.unref();
    };
    await listen().catch(async (err: unknown) => {
      // Lost before it began (the server is restarting): it comes back as above.
      if (isConnectionError(err)) {
        if (current) dropped(current);
        return;
      }
      stopped = true;
      await current?.end().catch(() => undefined);
      throw err;
    });
    return async () => {
      stopped = true;
      this.local.delete(listener);
      clearTimeout(timer);
      await current?.end().catch(() => undefined);
    };
  }

  // ---------------------------------------------------------------- reads

  async nextDue(filter: DueFilter = {}): Promise<Date | undefined> {
    const { runId, tasks, dag, databases } = filter;
    const params: unknown[] = [];
    const filters: string[] = [];
    if (runId !== undefined) filters.push(`AND j.run_id = $${params.push(runId)}`);
    if (tasks !== undefined) filters.push(`AND j.task_name = ANY($${params.push([...tasks])})`);
    filters.push(...dagFilter(dag, params, 'j.'));
    if (databases !== undefined) filters.push(databaseFilter(databases, params, 'j.'));
    // A job held back by another of its task and partition is due when that one's lease runs
    // out at the latest (its end wakes this process's workers sooner: see `wakeLocally`).
    // A run's job held by another worker (or by one that died) is due when its lease runs out: it
    // comes back then, unless it ends sooner (which wakes the worker).
    const held =
      runId === undefined ? '' : `UNION ALL SELECT min(lease_expires_at) FROM ${this.s}.jobs WHERE run_id = $1 AND state = 'processing'`;
    const row = (
      await this.q(
        `SELECT min(due) AS due FROM (
           SELECT min(greatest(j.run_at, w.lease_expires_at)) AS due FROM ${this.s}.jobs j
           LEFT JOIN ${this.s}.jobs w ON w.state = 'processing' AND w.database_id IS NOT NULL AND w.database_id = j.database_id
             AND w.task_name = j.task_name AND w.partition_key = j.partition_key
           WHERE j.state IN ('pending', 'failed') AND j.waiting = 0 ${filters.join(' ')}
           ${held}) d`,
        params,
      )
    ).rows[0];
    return toDate(row?.due) ?? undefined;
  }
}

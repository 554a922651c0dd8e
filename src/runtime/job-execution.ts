/**
 * One job's execution inside the worker loop (`worker.ts`): its definition, its database, the
 * runner of its kind (SQL or function), and how it ends — success, retry, failure, cancel, or
 * handed back unharmed — recorded in the ledger.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DuckorchError } from '../errors.js';
import { assetsOf } from '../model/assets.js';
import { attemptsAllowed, retryDelayMs } from '../model/retry.js';
import { writesDatabase, type TaskDefinition } from '../model/taskfile/task.js';
import type { TemplateVariable } from '../sql/template.js';
import { findCompletionMarker } from '../store/duckdb/completion-markers.js';
import { storeWatermarkSql, storedWatermark } from '../store/duckdb/watermarks.js';
import type { CheckResultRecord, ClaimedJob, JobRecord, SuccessOutcome } from '../store/ledger.js';
import type { DataTransaction } from '../store/ledger.js';
import { AttemptFailure } from './attempt-failure.js';
import { ensureSchemas } from './catalog.js';
import type { Reconnect } from './reconnect.js';
import { isConnectionLost } from './reconnect.js';
import { prepareStatements, runSqlAttempt, type AttemptSuccess, type VariableValue } from './sql-task.js';
import { intervalSpecOf, parseIntervalKey } from '../model/intervals.js';
import { recordIntervalSql } from '../store/duckdb/intervals.js';
import { partitionParameters } from './partition-parameters.js';
import { resolveWatermark } from './watermark.js';
import type { WorkerOptions } from './worker-options.js';
import { jobLabel } from '../model/jobs/job-state.js';

/** Conflicts between concurrent transactions are transient; retry them this many times per attempt. */
const CONFLICT_RETRIES = 8;
/** The worker is shutting down: after the grace, the job goes back to the queue, unharmed. */
export const SHUTDOWN = Symbol('shutdown');
/** The job's lease ran out and another worker has it: nothing more is recorded. */
export const LEASE_LOST = Symbol('lease lost');
/** Cancelled from elsewhere while it ran (`cancel`): stopped, and recorded as cancelled. */
export const CANCEL_REQUESTED = Symbol('cancel requested');
/** The worker let go of the job's database (its lease ran out): the job goes back, unharmed. */
export const DATABASE_LOST = Symbol('database lost');

function formatSqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** What a job's execution shares with its worker loop. */
export interface Ctx {
  /** Retries ledger calls through a lost connection. */
  reconnect: Reconnect;
  /** Aborts when waiting for the ledger to come back is no longer worth it (cancelled, or the shutdown's grace is over). */
  giveUp: AbortSignal;
}

/** A ledger call of a job's execution, retried through a lost connection until the worker gives up. */
export function retried<T>(ctx: Ctx, fn: (retry: number) => Promise<T>): Promise<T> {
  return ctx.reconnect.call(fn, ctx.giveUp);
}

function timeoutOf(o: WorkerOptions, task: TaskDefinition): number | null {
  return task.timeoutSeconds !== null ? task.timeoutSeconds * 1000 : (o.defaultTimeoutMs ?? null);
}

export function isLeaseLost(err: unknown): boolean {
  return err instanceof DuckorchError && err.code === 'LEASE_LOST';
}

/** How a finishing function job records its success while its slot goes on to the next job (see `work`). */
export interface HandOff {
  /** Records the success in the background; `recorded` is called once it is (not when the job was no longer held). */
  completeLater(job: ClaimedJob, outcome: SuccessOutcome, recorded: () => void): void;
}

export async function execute(o: WorkerOptions, ctx: Ctx, job: ClaimedJob, signal: AbortSignal, handOff: HandOff): Promise<void> {
  const task = await retried(ctx, () => o.definition(job));
  if ('missing' in task) {
    const now = o.clock();
    const skipped = await retried(ctx, () => o.ledger.skip(job, o.workerId, task.missing, now)).then(
      () => true,
      (e: unknown) => {
        if (isLeaseLost(e)) return false;
        throw e;
      },
    );
    if (!skipped) return;
    o.onEvent?.({ type: 'skip', task: jobLabel(job), job: { ...job, state: 'skipped', error: task.missing } });
    return;
  }
  let database: { instance: DuckDBInstance; release: () => void } | undefined;
  if (job.database !== null && o.databases) {
    database = o.databases.use(job.database);
    // Claimed as the worker let go of the database: the job goes back for its next holder.
    if (!database) return o.ledger.release(o.workerId, [job.id], o.clock());
  }
  o.onEvent?.({ type: 'start', task: jobLabel(job), attempt: job.attempts });
  const assets = assetsOf(task);
  try {
    const instance = database?.instance ?? o.instance;
    if (writesDatabase(task) && instance === undefined)
      throw new AttemptFailure(
        'definition',
        `task \`${job.task}\` writes a DuckDB database, but its job names none (it was enqueued by an older duck-orch): enqueue it again`,
        {},
      );
    // The data of an earlier attempt may have committed without its completion reaching the ledger (see PgLedger.complete).
    if (job.database !== null && instance && (await recordCommitted(o, ctx, job, instance))) return;
    if (instance && writesDatabase(task)) await ensureSchemas(instance, task.outputs);
    if (task.kind === 'function') await runFunction(o, ctx, job, task, signal, assets, instance, handOff);
    else await runSql(o, ctx, job, task, signal, assets, instance!);
  } catch (err) {
    // Cancelled or taken over (this worker's lease ran out, another took the job): the ledger already moved on.
    if (signal.reason === LEASE_LOST || isLeaseLost(err)) return;
    if (signal.reason === SHUTDOWN || signal.reason === DATABASE_LOST) {
      const now = o.clock();
      const handedBack = await retried(ctx, () => o.ledger.release(o.workerId, [job.id], now)).then(
        () => true,
        (e: unknown) => {
          // Nothing is lost: its lease runs out and another worker takes it back.
          if (isConnectionLost(e)) o.onNotice?.(`could not hand ${job.task} back (${e.message}); its lease will run out`);
          else throw e;
          return false;
        },
      );
      if (handedBack)
        o.onEvent?.({
          type: 'release',
          task: jobLabel(job),
          reason: signal.reason === SHUTDOWN ? 'the worker is shutting down' : 'the worker lost its lease on the database',
        });
      return;
    }
    const f =
      err instanceof AttemptFailure
        ? err
        : new AttemptFailure('definition', `internal error: ${err instanceof Error ? err.message : String(err)}`, {});
    const cancelled = f.kind === 'cancelled';
    const delayMs = retryDelayMs(job.attempts, o.retry, o.random);
    const failedAt = o.clock();
    // Sent again after a lost connection, a failure that committed the first time is LEASE_LOST: dropped below.
    const failed = await retried(ctx, () =>
      o.ledger.fail(
        job,
        o.workerId,
        {
          error: !cancelled
            ? f.message
            : signal.reason === CANCEL_REQUESTED
              ? 'cancelled while it ran'
              : 'the run was cancelled while it ran',
          errorContext: { kind: f.kind, attempts: job.attempts, ...f.context },
          retryable: f.retryable,
          retryDelayMs: delayMs,
          cancelled,
          maxAttempts: attemptsAllowed(task, o.maxAttempts, job.maxAttempts),
          assets,
          codeVersion: task.codeVersion,
        },
        failedAt,
      ),
    ).catch((e: unknown) => {
      if (isLeaseLost(e)) return undefined;
      throw e;
    });
    if (!failed) return;
    const { job: after, downstream } = failed;
    if (after.state === 'failed') o.onEvent?.({ type: 'retry', task: jobLabel(job), attempt: job.attempts, delayMs, error: f.message });
    else o.onEvent?.({ type: 'finish', task: jobLabel(job), job: after });
    for (const d of downstream) o.onEvent?.({ type: 'skip', task: jobLabel(d), job: d });
  } finally {
    database?.release();
  }
}

/**
 * A job back after its worker died between its data's commit (DuckDB) and its completion (the
 * ledger): when the data's completion marker says it committed, records that outcome instead
 * of running the task again. Returns whether it did.
 */
async function recordCommitted(o: WorkerOptions, ctx: Ctx, job: ClaimedJob, instance: DuckDBInstance): Promise<boolean> {
  const conn = await instance.connect();
  let committed;
  try {
    committed = await findCompletionMarker(conn, job.id);
  } finally {
    conn.closeSync();
  }
  if (!committed) return false;
  const now = o.clock();
  await retried(ctx, () => o.ledger.complete(job, o.workerId, committed.outcome, now));
  o.onEvent?.({ type: 'recovered', task: jobLabel(job), attempt: committed.attempt });
  o.onEvent?.({
    type: 'finish',
    task: jobLabel(job),
    job: {
      ...job,
      state: 'succeeded',
      finishedAt: now,
      rows: committed.outcome.rows,
      result: committed.outcome.result,
      watermark: committed.outcome.watermark,
      codeVersion: committed.outcome.codeVersion,
    },
  });
  return true;
}

async function runSql(
  o: WorkerOptions,
  ctx: Ctx,
  job: ClaimedJob,
  task: TaskDefinition,
  signal: AbortSignal,
  assets: string[],
  instance: DuckDBInstance,
): Promise<void> {
  const startedAt = job.startedAt ?? o.clock();
  const statements = prepareStatements(task);
  const parameters = partitionParameters(task, job.partitionKey);
  const interval = intervalSpecOf(task) ? parseIntervalKey(job.partitionKey) : undefined;
  // The watermark is kept in the database beside the data it describes (an older version kept
  // it in the ledger only: read there when the database has none). --full-refresh starts over.
  const recorded = async (conn: DuckDBConnection): Promise<string | null> =>
    task.incrementalBy === null || o.fullRefresh
      ? null
      : ((await storedWatermark(conn, task.name, job.partitionKey)) ??
        (await retried(ctx, () => o.ledger.lastWatermark(task.name, job.partitionKey))));
  const variables: Record<TemplateVariable, VariableValue> = {
    last_processed_at: async (conn) => resolveWatermark(conn, task, await recorded(conn)),
    now: formatSqlTimestamp(startedAt),
    run_id: job.id,
  };
  let completed: JobRecord | undefined;
  let checkResults: CheckResultRecord[] = [];
  // Kept whether the attempt succeeded or its checks failed it; observations, so a lost write is only noticed.
  const recordChecks = async () => {
    if (checkResults.length === 0) return;
    const results = checkResults;
    checkResults = [];
    await retried(ctx, () => o.ledger.recordCheckResults(results)).catch((err: unknown) =>
      o.onNotice?.(`could not record the check results of ${job.task}: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  // The ledger gave the job up while completing it: not a failure of the task (the attempt
  // failure it turns into on its way out of the attempt is not what happened).
  let unrecorded: unknown;
  for (let conflict = 0; ; conflict++) {
    try {
      await runSqlAttempt({
        instance,
        task,
        statements,
        variables,
        timeoutMs: timeoutOf(o, task),
        signal,
        ...(parameters ? { parameters } : {}),
        ...(task.checks.length > 0
          ? {
              checks: {
                asset: assets[0] ?? task.name,
                partitionKey: job.partitionKey,
                parameters,
                runId: job.runId,
                jobId: job.id,
                now: o.clock,
                onResults: (results) => (checkResults = results),
              },
            }
          : {}),
        commit: async (res: AttemptSuccess, tx: DataTransaction) => {
          const now = o.clock();
          // The next load's position commits with the data that moved it.
          // So does the record of the interval a batch processed.
          const beforeCommit = [
            ...(task.incrementalBy !== null && res.watermark !== null
              ? [storeWatermarkSql(task.name, job.partitionKey, res.watermark, job.id, now)]
              : []),
            ...(interval
              ? [recordIntervalSql(assets[0] ?? task.name, task.automation!.intervalUnit!, interval.start, interval.end, job.runId, now)]
              : []),
          ];
          const data: DataTransaction = beforeCommit.length > 0 ? { ...tx, beforeCommit } : tx;
          // The first try commits the data transaction; a try after a lost connection records the completion only.
          await retried(ctx, (retry) =>
            o.ledger.complete(
              job,
              o.workerId,
              { rows: res.rows, result: null, watermark: res.watermark, codeVersion: task.codeVersion, assets },
              now,
              retry === 0 ? data : undefined,
            ),
          ).catch((err: unknown) => {
            if (isLeaseLost(err)) unrecorded = err;
            throw err;
          });
          completed = {
            ...job,
            state: 'succeeded',
            finishedAt: now,
            rows: res.rows,
            watermark: res.watermark,
            codeVersion: task.codeVersion,
          };
        },
      });
      await recordChecks();
      o.onEvent?.({ type: 'finish', task: jobLabel(job), job: completed! });
      return;
    } catch (err) {
      await recordChecks();
      if (unrecorded !== undefined) throw unrecorded;
      if (err instanceof AttemptFailure && err.kind === 'conflict' && conflict < CONFLICT_RETRIES && !signal.aborted) {
        await new Promise((r) => setTimeout(r, 5 + Math.floor(o.random() * 20 * (conflict + 1))));
        continue;
      }
      throw err;
    }
  }
}

async function runFunction(
  o: WorkerOptions,
  ctx: Ctx,
  job: ClaimedJob,
  task: TaskDefinition,
  signal: AbortSignal,
  assets: string[],
  instance: DuckDBInstance | undefined,
  handOff: HandOff,
): Promise<void> {
  if (!o.functions)
    throw new AttemptFailure('definition', `task \`${task.name}\` is a TypeScript function, which this worker cannot run`, {});
  // Root tasks get the run's payload; the others their upstream tasks' results, whether or not those ran in this run.
  const inputs = task.dependsOn.length === 0 ? job.runInputs : await retried(ctx, () => o.ledger.upstreamResults(job, task.dependsOn));
  let committedAt: Date | undefined;
  let unrecorded: unknown;
  // An asset's transaction may conflict with another's (two partitions creating one table): tried again, as SQL tasks are.
  const attempt = () =>
    o.functions!({
      job,
      task,
      inputs,
      instance,
      timeoutMs: timeoutOf(o, task),
      signal,
      log: (message) => o.onEvent?.({ type: 'log', task: jobLabel(job), message }),
      commit: async (value, tx) => {
        const at = (committedAt = o.clock());
        // As for SQL: the data transaction commits on the first try only.
        await retried(ctx, (retry) =>
          o.ledger.complete(
            job,
            o.workerId,
            { rows: null, result: value, watermark: null, codeVersion: task.codeVersion, assets },
            at,
            retry === 0 ? tx : undefined,
          ),
        ).catch((err: unknown) => {
          if (isLeaseLost(err)) unrecorded = err;
          throw err;
        });
      },
    }).catch((err: unknown) => {
      // See runSql: the ledger gave the job up, the task did not fail.
      throw unrecorded ?? err;
    });
  let outcome;
  for (let conflict = 0; ; conflict++) {
    try {
      outcome = await attempt();
      break;
    } catch (err) {
      if (
        err instanceof AttemptFailure &&
        err.kind === 'conflict' &&
        conflict < CONFLICT_RETRIES &&
        !signal.aborted &&
        unrecorded === undefined
      ) {
        await new Promise((r) => setTimeout(r, 5 + Math.floor(o.random() * 20 * (conflict + 1))));
        continue;
      }
      throw err;
    }
  }
  const { result, committed } = outcome;
  const now = committedAt ?? o.clock();
  const finished = () =>
    o.onEvent?.({
      type: 'finish',
      task: jobLabel(job),
      job: { ...job, state: 'succeeded', finishedAt: now, result, codeVersion: task.codeVersion },
    });
  if (committed) finished();
  else handOff.completeLater(job, { rows: null, result, watermark: null, codeVersion: task.codeVersion, assets }, finished);
}

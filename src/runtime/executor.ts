/**
 * Runs a selection of tasks: each task starts as soon as all of its selected upstream tasks
 * have succeeded (not when a whole layer is done), at most `maxParallel` at once. A failure
 * marks everything downstream of it `skipped` while independent branches carry on. Failed
 * attempts are retried with exponential backoff and jitter; transaction conflicts between
 * concurrent tasks are retried at once without using up the task's retries.
 */
import { randomUUID } from 'node:crypto';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { TaskGraph } from '../model/graph/dag.js';
import { assetsOf } from '../model/assets.js';
import { retryDelayMs, type RetryPolicy } from '../model/retry.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { TemplateVariable } from '../sql/template.js';
import type { DataTransaction, Store, TaskRunRecord } from '../store/store.js';
import {
  AttemptFailure,
  prepareStatements,
  runSqlAttempt,
  type AttemptSuccess,
  type PreparedStatement,
  type VariableValue,
} from './sql-task.js';
import { resolveWatermark } from './watermark.js';

export type RunEvent =
  | { type: 'start'; task: string; attempt: number }
  | { type: 'retry'; task: string; attempt: number; delayMs: number; error: string }
  | { type: 'finish'; task: string; record: TaskRunRecord }
  | { type: 'skip'; task: string; record: TaskRunRecord };

export interface ExecutorOptions {
  instance: DuckDBInstance;
  store: Store;
  graph: TaskGraph;
  tasks: ReadonlyMap<string, TaskDefinition>;
  /** The tasks to run; records come back in this set's (insertion) order. */
  selected: ReadonlySet<string>;
  pipelineRunId: string;
  maxParallel: number;
  retry: RetryPolicy;
  clock: () => Date;
  random: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Ignore recorded `@incremental_by` watermarks: incremental tasks load from the beginning. */
  fullRefresh?: boolean;
}

/** Conflicts between concurrent transactions are transient; retry them this many times per attempt. */
const CONFLICT_RETRIES = 8;

function formatSqlTimestamp(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

export async function executeRun(o: ExecutorOptions): Promise<TaskRunRecord[]> {
  const records = new Map<string, TaskRunRecord>();
  const waiting = new Map<string, number>();
  for (const name of o.selected) waiting.set(name, [...o.graph.upstreamOf(name)].filter((u) => o.selected.has(u)).length);
  const ready = [...waiting]
    .filter(([, n]) => n === 0)
    .map(([name]) => name)
    .sort();
  const settled = new Set<string>();
  let running = 0;
  // Skipped records being written: the run is not done until they are stored.
  let writing = 0;

  return new Promise<TaskRunRecord[]>((resolve, reject) => {
    const finishIfDone = () => {
      if (settled.size === o.selected.size && running === 0 && writing === 0) resolve([...o.selected].map((n) => records.get(n)!));
    };
    /** Records tasks that will not run, as `skipped` with the reason. */
    const skip = async (names: readonly string[], reason: string, context: Record<string, unknown> | null) => {
      const now = o.clock();
      const skipped = names.map((name): TaskRunRecord => ({
        runId: randomUUID(),
        pipelineRunId: o.pipelineRunId,
        taskName: name,
        startedAt: null,
        finishedAt: now,
        status: 'skipped',
        rowsCount: null,
        errorMessage: `skipped: ${reason}`,
        errorContext: context,
        attempts: 0,
        lastProcessedAt: null,
        codeVersion: o.tasks.get(name)?.codeVersion ?? null,
        assets: [],
      }));
      // Settled at once, so that two failures never skip the same task twice.
      for (const r of skipped) {
        records.set(r.taskName, r);
        settled.add(r.taskName);
      }
      writing++;
      try {
        await o.store.recordTaskRuns(skipped);
      } finally {
        writing--;
      }
      for (const r of skipped) o.onEvent?.({ type: 'skip', task: r.taskName, record: r });
    };
    const skipDownstream = (failed: string) =>
      skip(
        [...o.graph.walk([failed], 'down')].filter((n) => o.selected.has(n) && !settled.has(n)).sort(),
        `upstream task \`${failed}\` failed`,
        { upstream: failed },
      );
    const pump = () => {
      while (running < o.maxParallel && ready.length > 0 && !o.signal?.aborted) {
        const name = ready.shift()!;
        running++;
        runTask(o, o.tasks.get(name)!)
          .then(async (record) => {
            records.set(name, record);
            settled.add(name);
            if (record.status === 'success') {
              for (const d of o.graph.downstreamOf(name)) {
                if (!waiting.has(d) || settled.has(d)) continue;
                const left = waiting.get(d)! - 1;
                waiting.set(d, left);
                if (left === 0) insertSorted(ready, d);
              }
            } else {
              await skipDownstream(name);
            }
          })
          .then(
            () => {
              running--;
              pump();
              finishIfDone();
            },
            (err: unknown) => reject(err),
          );
      }
      if (o.signal?.aborted && running === 0) {
        // Tasks never started because the run was interrupted are recorded as skipped.
        const rest = [...o.selected].filter((n) => !settled.has(n)).sort();
        if (rest.length > 0) skip(rest, 'the run was interrupted', null).then(finishIfDone, reject);
      }
    };
    pump();
    finishIfDone();
  });
}

function insertSorted(list: string[], name: string): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > name) i--;
  list.splice(i, 0, name);
}

async function runTask(o: ExecutorOptions, task: TaskDefinition): Promise<TaskRunRecord> {
  const startedAt = o.clock();
  const record: TaskRunRecord = {
    runId: randomUUID(),
    pipelineRunId: o.pipelineRunId,
    taskName: task.name,
    startedAt,
    finishedAt: null,
    status: 'running',
    rowsCount: null,
    errorMessage: null,
    errorContext: null,
    attempts: 1,
    lastProcessedAt: null,
    codeVersion: task.codeVersion,
    assets: assetsOf(task),
  };
  const statements = prepareStatements(task);
  const usesWatermark = statements.some((s) => s.variables.includes('last_processed_at'));
  // --full-refresh starts over: the recorded watermark is ignored, as if the task never ran.
  const recorded = usesWatermark && task.incrementalBy !== null && !o.fullRefresh ? await o.store.lastWatermark(task.name) : null;
  const variables: Record<TemplateVariable, VariableValue> = {
    last_processed_at: (conn) => resolveWatermark(conn, task, recorded),
    now: formatSqlTimestamp(startedAt),
    run_id: record.runId,
  };
  const maxAttempts = task.retries + 1;

  for (let attempt = 1; ; attempt++) {
    o.onEvent?.({ type: 'start', task: task.name, attempt });
    record.attempts = attempt;
    try {
      const done = await attemptWithConflictRetries(o, task, statements, variables, record);
      return done;
    } catch (err) {
      if (!(err instanceof AttemptFailure)) throw err;
      if (attempt < maxAttempts && err.retryable && !o.signal?.aborted) {
        const delayMs = retryDelayMs(attempt, o.retry, o.random);
        o.onEvent?.({ type: 'retry', task: task.name, attempt, delayMs, error: err.message });
        await o.sleep(delayMs, o.signal);
        continue;
      }
      const failed: TaskRunRecord = {
        ...record,
        status: 'failed',
        finishedAt: o.clock(),
        errorMessage: err.message,
        errorContext: { kind: err.kind, attempts: attempt, ...err.context },
      };
      await o.store.recordTaskRuns([failed]);
      o.onEvent?.({ type: 'finish', task: task.name, record: failed });
      return failed;
    }
  }
}

async function attemptWithConflictRetries(
  o: ExecutorOptions,
  task: TaskDefinition,
  statements: readonly PreparedStatement[],
  variables: Record<TemplateVariable, VariableValue>,
  record: TaskRunRecord,
): Promise<TaskRunRecord> {
  let finished: TaskRunRecord | undefined;
  const finish = (result: AttemptSuccess): TaskRunRecord => ({
    ...record,
    status: 'success',
    finishedAt: o.clock(),
    rowsCount: result.rows,
    lastProcessedAt: result.watermark,
  });
  for (let conflict = 0; ; conflict++) {
    try {
      const result = await runSqlAttempt({
        instance: o.instance,
        task,
        statements,
        variables,
        timeoutMs: task.timeoutSeconds === null ? null : task.timeoutSeconds * 1000,
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.store.capabilities.joinsDataTransaction
          ? {
              commit: async (res: AttemptSuccess, tx: DataTransaction) => {
                const done = finish(res);
                await o.store.commitTaskRun(done, tx);
                finished = done;
              },
            }
          : {}),
      });
      if (!finished) {
        const done = finish(result);
        await o.store.recordTaskRuns([done]);
        finished = done;
      }
      o.onEvent?.({ type: 'finish', task: task.name, record: finished });
      return finished;
    } catch (err) {
      finished = undefined;
      if (err instanceof AttemptFailure && err.kind === 'conflict' && conflict < CONFLICT_RETRIES) {
        await o.sleep(5 + Math.floor(o.random() * 20 * (conflict + 1)), o.signal);
        continue;
      }
      throw err;
    }
  }
}

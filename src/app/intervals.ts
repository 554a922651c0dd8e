/**
 * Interval tasks at planning time: the batches each one's unprocessed intervals make (see
 * `model/intervals.ts`), read from what the database file says was processed; and `restate`,
 * which forgets a range of an interval task (or names a range of a partitioned asset) and
 * builds it again.
 */
import { DuckorchError } from '../errors.js';
import { assetsOf } from '../model/assets.js';
import { intervalBatches, intervalKey, intervalSpecOf, processedIntervals } from '../model/intervals.js';
import { isValidDate } from '../model/partitions/definition.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import { clearIntervals, processedRanges } from '../store/duckdb/intervals.js';
import type { ProjectContext } from './context.js';
import type { PlannedJob } from './partition-plan.js';

/** The jobs of an interval task at `now`: one per batch of unprocessed intervals (within a range, when restating). */
export async function intervalJobs(
  ctx: ProjectContext,
  task: TaskDefinition,
  now: Date,
  within?: { from: number; to: number },
): Promise<PlannedJob[]> {
  const spec = intervalSpecOf(task)!;
  // `register` rejects such a task since analysis version 4; one registered before cannot be planned.
  if (task.partitions !== null)
    throw new DuckorchError(
      'USAGE',
      `\`${task.name}\` is both partitioned and an interval task: give it one of @partitions_by and on_interval, and register again`,
    );
  const { instance } = await ctx.database();
  const conn = await instance.connect();
  let ranges;
  try {
    ranges = await processedRanges(conn, assetsOf(task)[0] ?? task.name);
  } finally {
    conn.closeSync();
  }
  return intervalBatches(spec, processedIntervals(spec, ranges), now, within).map((b) => ({
    task: task.name,
    partitionKey: intervalKey(b),
  }));
}

/** A restatement's bound: a day (its start) or a UTC time, in ms. */
export function instantOf(flag: string, text: string): number {
  const t = text.trim();
  const ms = isValidDate(t)
    ? Date.parse(`${t}T00:00:00Z`)
    : /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d)?Z?$/.test(t)
      ? Date.parse(`${t.replace(' ', 'T').replace(/Z$/, '')}Z`)
      : NaN;
  if (Number.isNaN(ms))
    throw new DuckorchError('USAGE', `${flag} must be a date or a UTC time, got \`${text}\``, {
      expected: 'YYYY-MM-DD or YYYY-MM-DDTHH:MM',
    });
  return ms;
}

/** Forgets what an interval task processed in `[fromMs, toMs)`, so that its next run does it again. */
export async function forgetIntervals(ctx: ProjectContext, task: TaskDefinition, fromMs: number, toMs: number): Promise<number> {
  const { instance } = await ctx.database();
  const conn = await instance.connect();
  try {
    return await clearIntervals(conn, assetsOf(task)[0] ?? task.name, fromMs, toMs);
  } finally {
    conn.closeSync();
  }
}

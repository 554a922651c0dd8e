/**
 * Interval processing (spec §4, with its bugs fixed), as range arithmetic: an interval task
 * (`@automation on_interval("daily")`) processes time in units of its interval, counted from its
 * anchor (`@interval_start`, else the epoch — for `daily` and `hourly` the UTC calendar's days
 * and hours). What was processed is kept as ranges; what is due runs from the start (or from the
 * first processed interval, or the last complete one) to the last complete interval (the
 * current one too with `@allow_partials`); the gaps are their difference, and each run of
 * contiguous gaps is one batch. `@lookback N` re-processes the N intervals before each gap,
 * not the tail of every run; with no gap, nothing runs.
 */
import { parseIntervalUnit } from './interval-unit.js';
import { RangeSet } from './partitions/ranges.js';

export interface IntervalSpec {
  /** Length of one interval. */
  stepMs: number;
  /** Where intervals start (`@interval_start`), ms since the epoch; null: the epoch. */
  startMs: number | null;
  lookback: number;
  allowPartials: boolean;
}

/** One batch: from `start` (inclusive) to `end` (exclusive); `partial` when it ends at `now`, before its interval does. */
export interface IntervalBatch {
  start: Date;
  end: Date;
  partial: boolean;
}

const anchor = (spec: IntervalSpec) => spec.startMs ?? 0;

/** Which interval an instant falls in (by index from the anchor). */
export function intervalIndex(spec: IntervalSpec, ms: number): number {
  return Math.floor((ms - anchor(spec)) / spec.stepMs);
}

export function intervalStart(spec: IntervalSpec, index: number): number {
  return anchor(spec) + index * spec.stepMs;
}

/** The processed ranges (`[startMs, endMs)`) as whole intervals: a partly covered interval is not processed. */
export function processedIntervals(spec: IntervalSpec, ranges: Iterable<readonly [number, number]>): RangeSet {
  return RangeSet.from(
    [...ranges].map(([s, e]) => [Math.ceil((s - anchor(spec)) / spec.stepMs), Math.floor((e - anchor(spec)) / spec.stepMs)] as const),
  );
}

/** The intervals due at `now`: complete ones (and the current one with partials), from the start. */
export function dueIntervals(spec: IntervalSpec, processed: RangeSet, now: Date): { due: RangeSet; current: number } {
  const current = intervalIndex(spec, now.getTime());
  const end = spec.allowPartials ? current + 1 : current;
  const first = spec.startMs !== null ? 0 : processed.isEmpty ? end - 1 : processed.ranges[0]![0];
  return { due: RangeSet.of(first, end), current };
}

/**
 * The batches to run at `now`: each run of contiguous unprocessed intervals once, stretched back
 * by the lookback; within [`from`, `to`) only, when given (a restatement).
 */
export function intervalBatches(
  spec: IntervalSpec,
  processed: RangeSet,
  now: Date,
  within?: { from: number; to: number },
): IntervalBatch[] {
  const { due, current } = dueIntervals(spec, processed, now);
  let gaps = due.minus(processed);
  if (within) gaps = gaps.intersect(RangeSet.of(intervalIndex(spec, within.from), Math.ceil((within.to - anchor(spec)) / spec.stepMs)));
  const low = spec.startMs !== null ? 0 : -Infinity;
  const stretched = RangeSet.from(gaps.ranges.map(([lo, hi]) => [Math.max(low, lo - spec.lookback), hi] as const));
  return stretched.ranges.map(([lo, hi]) => {
    const partial = spec.allowPartials && hi > current;
    return {
      start: new Date(intervalStart(spec, lo)),
      end: new Date(partial ? Math.min(now.getTime(), intervalStart(spec, hi)) : intervalStart(spec, hi)),
      partial,
    };
  });
}

/** A batch as a job's partition key: ISO 8601's `start/end` interval notation. */
export function intervalKey(batch: { start: Date; end: Date }): string {
  return `${batch.start.toISOString()}/${batch.end.toISOString()}`;
}

/** The interval a job's key names, or undefined when it is no interval key. */
export function parseIntervalKey(key: string): { start: Date; end: Date } | undefined {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\/(\d{4}-\d\d-\d\dT[\d:.]+Z)$/.exec(key);
  if (!m) return undefined;
  const start = new Date(m[1]!);
  const end = new Date(m[2]!);
  return Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start ? undefined : { start, end };
}

/** The interval settings of a task, or undefined when it processes no intervals. */
export function intervalSpecOf(task: {
  automation: { intervalUnit: string | null } | null;
  interval: { startTs: number | null; lookback: number; allowPartials: boolean };
}): IntervalSpec | undefined {
  const unit = task.automation?.intervalUnit;
  if (!unit) return undefined;
  const minutes = parseIntervalUnit(unit)?.minutes;
  if (minutes === undefined) return undefined;
  return {
    stepMs: minutes * 60_000,
    startMs: task.interval.startTs === null ? null : task.interval.startTs * 1000,
    lookback: task.interval.lookback,
    allowPartials: task.interval.allowPartials,
  };
}

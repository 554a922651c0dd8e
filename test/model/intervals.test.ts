import { describe, expect, it } from 'vitest';
import { intervalBatches, intervalKey, parseIntervalKey, processedIntervals, type IntervalSpec } from '../../src/model/intervals.js';
import { RangeSet } from '../../src/model/partitions/ranges.js';

const DAY = 86_400_000;
const d = (iso: string) => new Date(`${iso}T00:00:00Z`);
const spec = (over: Partial<IntervalSpec> = {}): IntervalSpec => ({
  stepMs: DAY,
  startMs: d('2026-01-01').getTime(),
  lookback: 0,
  allowPartials: false,
  ...over,
});
const days = (b: Array<{ start: Date; end: Date }>) =>
  b.map((x) => `${x.start.toISOString().slice(0, 10)}..${x.end.toISOString().slice(0, 10)}`);

describe('interval batches', () => {
  it('from the start to the last complete interval, each run of gaps once; nothing when nothing is due', () => {
    const s = spec();
    const now = new Date('2026-01-10T15:00:00Z');
    expect(days(intervalBatches(s, RangeSet.EMPTY, now))).toEqual(['2026-01-01..2026-01-10']);
    const done = processedIntervals(s, [
      [d('2026-01-01').getTime(), d('2026-01-04').getTime()],
      [d('2026-01-06').getTime(), d('2026-01-08').getTime()],
    ]);
    expect(days(intervalBatches(s, done, now))).toEqual(['2026-01-04..2026-01-06', '2026-01-08..2026-01-10']);
    const all = processedIntervals(s, [[d('2026-01-01').getTime(), d('2026-01-10').getTime()]]);
    expect(intervalBatches(s, all, now)).toEqual([]);
  });

  it('lookback re-processes the intervals before each gap, not the tail of every run', () => {
    const s = spec({ lookback: 2 });
    const now = new Date('2026-01-10T00:00:00Z');
    const done = processedIntervals(s, [[d('2026-01-01').getTime(), d('2026-01-09').getTime()]]);
    expect(days(intervalBatches(s, done, now))).toEqual(['2026-01-07..2026-01-10']);
    const all = processedIntervals(s, [[d('2026-01-01').getTime(), d('2026-01-10').getTime()]]);
    expect(intervalBatches(s, all, now)).toEqual([]);
    // Never before the start.
    expect(days(intervalBatches(spec({ lookback: 5 }), RangeSet.EMPTY, new Date('2026-01-03T00:00:00Z')))).toEqual([
      '2026-01-01..2026-01-03',
    ]);
  });

  it('calendar-aligned from the start; partials end at now; without a start, the last complete interval first', () => {
    const hourly = spec({ stepMs: 3_600_000, allowPartials: true, startMs: Date.parse('2026-01-01T06:00:00Z') });
    const b = intervalBatches(hourly, RangeSet.EMPTY, new Date('2026-01-01T08:30:00Z'));
    expect(b.map((x) => [x.start.toISOString(), x.end.toISOString(), x.partial])).toEqual([
      ['2026-01-01T06:00:00.000Z', '2026-01-01T08:30:00.000Z', true],
    ]);
    // A partly covered interval is not processed: the partial hour runs again.
    const done = processedIntervals(hourly, [[Date.parse('2026-01-01T06:00:00Z'), Date.parse('2026-01-01T08:30:00Z')]]);
    expect(intervalBatches(hourly, done, new Date('2026-01-01T08:45:00Z')).map((x) => x.start.toISOString())).toEqual([
      '2026-01-01T08:00:00.000Z',
    ]);
    const open = spec({ startMs: null });
    expect(days(intervalBatches(open, RangeSet.EMPTY, new Date('2026-03-05T10:00:00Z')))).toEqual(['2026-03-04..2026-03-05']);
  });

  it('a restatement takes only the gaps within its range', () => {
    const s = spec();
    const now = new Date('2026-01-10T00:00:00Z');
    const b = intervalBatches(s, RangeSet.EMPTY, now, { from: d('2026-01-03').getTime(), to: d('2026-01-05').getTime() });
    expect(days(b)).toEqual(['2026-01-03..2026-01-05']);
  });

  it('keys are ISO 8601 intervals, read back exactly', () => {
    const k = intervalKey({ start: d('2026-01-01'), end: d('2026-01-02') });
    expect(k).toBe('2026-01-01T00:00:00.000Z/2026-01-02T00:00:00.000Z');
    expect(parseIntervalKey(k)).toEqual({ start: d('2026-01-01'), end: d('2026-01-02') });
    expect(parseIntervalKey('2026-01-01')).toBeUndefined();
    expect(parseIntervalKey('2026-01-02T00:00:00Z/2026-01-01T00:00:00Z')).toBeUndefined();
  });
});

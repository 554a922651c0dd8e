/**
 * The keys of a partition definition at a given time, by arithmetic: each key has an index, and
 * sets of keys are `RangeSet`s of indices. A time dimension's partitions exist once their period
 * is over (as in Dagster): a new day appears on its own, without registering again, and today's
 * partition exists tomorrow. Multi keys join their dimensions' values with `|` in dimension-name
 * order; the index puts the time dimension outermost, so that new periods add to the end.
 */
import { isTimeDef, type DimensionDef, type PartitionDef, type StaticDef, type TimeDef, type TimeUnit } from './definition.js';
import { RangeSet } from './ranges.js';
import { keyTime, periodIndex, periodStart, readTimeKey, timeKey } from './time-window.js';

export type Located = { ok: true; index: number } | { ok: false; message: string };

interface TimeAxis {
  name: string;
  unit: TimeUnit;
  start: number;
  /** Periods up to and including the declared end; null when open. */
  declared: number | null;
}

interface StaticAxis {
  name: string;
  values: readonly string[];
  positions: ReadonlyMap<string, number>;
}

export class PartitionSpace {
  private readonly time: TimeAxis | undefined;
  private readonly statics: StaticAxis[] = [];
  /** How many static combinations each period holds. */
  private readonly stride: number;
  /** Dimension names in key order (a single, unnamed dimension: none). */
  readonly dimensions: readonly string[];

  constructor(readonly def: PartitionDef) {
    const dims: Array<{ name: string; def: DimensionDef }> = def.kind === 'multi' ? def.dimensions : [{ name: '', def }];
    this.dimensions = def.kind === 'multi' ? def.dimensions.map((d) => d.name) : [];
    for (const d of dims) {
      if (isTimeDef(d.def)) this.time = timeAxis(d.name, d.def);
      else this.statics.push(staticAxis(d.name, d.def as StaticDef));
    }
    this.stride = this.statics.reduce((n, s) => n * s.values.length, 1);
  }

  get isTimed(): boolean {
    return this.time !== undefined;
  }

  get timeUnit(): TimeUnit | undefined {
    return this.time?.unit;
  }

  /** The periods that exist at `now` (1 without a time dimension). */
  periods(now: Date): number {
    const t = this.time;
    if (!t) return 1;
    const done = Math.max(0, periodIndex(t.unit, t.start, now.getTime()));
    return t.declared === null ? done : Math.min(done, t.declared);
  }

  /** Whether one dimension is time (ranges apply). */
  hasTime(): boolean {
    return this.time !== undefined;
  }

  /** How many partitions exist at `now`. */
  size(now: Date): number {
    return this.periods(now) * this.stride;
  }

  all(now: Date): RangeSet {
    return RangeSet.of(0, this.size(now));
  }

  keyAt(index: number): string {
    const period = Math.floor(index / this.stride);
    let rest = index % this.stride;
    const values = new Map<string, string>();
    for (let k = this.statics.length - 1; k >= 0; k--) {
      const s = this.statics[k]!;
      values.set(s.name, s.values[rest % s.values.length]!);
      rest = Math.floor(rest / s.values.length);
    }
    if (this.time) values.set(this.time.name, timeKey(this.time.unit, periodStart(this.time.unit, this.time.start, period)));
    if (this.dimensions.length === 0) return values.get('')!;
    return this.dimensions.map((d) => values.get(d)!).join('|');
  }

  /** The dimension that changes slowest in index order (time, else the first static): how keys group. */
  get outerDimension(): string {
    return this.time?.name ?? this.statics[0]!.name;
  }

  /** The value of each dimension of a key (a multi key's parts by name; otherwise none). */
  dimensionValues(key: string): Record<string, string> {
    if (this.dimensions.length === 0) return {};
    const parts = key.split('|');
    return Object.fromEntries(this.dimensions.map((d, i) => [d, parts[i] ?? '']));
  }

  /** The start and end of a key's period (time partitions), for `$partition_start`/`$partition_end`. */
  window(key: string): { start: Date; end: Date } | undefined {
    const t = this.time;
    if (!t) return undefined;
    const part = this.dimensions.length === 0 ? key : this.dimensionValues(key)[t.name]!;
    const start = keyTime(part);
    const i = periodIndex(t.unit, t.start, start);
    return { start: new Date(start), end: new Date(periodStart(t.unit, t.start, i + 1)) };
  }

  /** Where a key is, or why it is not a partition at `now`. */
  locate(key: string, now: Date): Located {
    const parts = this.dimensions.length === 0 ? [key] : key.split('|');
    if (parts.length !== Math.max(1, this.dimensions.length))
      return { ok: false, message: `\`${key}\` has ${parts.length} part(s); keys here are ${this.example(now)}` };
    let period = 0;
    let offset = 0;
    const byName = new Map((this.dimensions.length === 0 ? [''] : this.dimensions).map((d, i) => [d, parts[i]!]));
    if (this.time) {
      const t = this.time;
      const text = byName.get(t.name)!;
      const read = readTimeKey(t.unit, text);
      if (typeof read !== 'string') return { ok: false, message: read.message };
      if (read !== text) return { ok: false, message: `\`${text}\` is written \`${read}\` as a key` };
      period = periodIndex(t.unit, t.start, keyTime(read));
      const periods = this.periods(now);
      if (period < 0) return { ok: false, message: `${read} is before the first partition ${this.keyAt(0)}` };
      if (period >= periods)
        return {
          ok: false,
          message:
            t.declared !== null && period >= t.declared
              ? `${read} is after the last partition ${timeKey(t.unit, periodStart(t.unit, t.start, t.declared - 1))}`
              : `${read} does not exist yet: a ${t.unit} partition exists once its period is over${periods > 0 ? ` (the latest is ${timeKey(t.unit, periodStart(t.unit, t.start, periods - 1))})` : ''}`,
        };
    }
    for (const s of this.statics) {
      const value = byName.get(s.name)!;
      const at = s.positions.get(value);
      if (at === undefined) return { ok: false, message: `\`${value}\` is not one of ${s.values.join(', ')}` };
      offset = offset * s.values.length + at;
    }
    return { ok: true, index: period * this.stride + offset };
  }

  /**
   * The partitions whose period lies between two bounds, both inclusive (time partitions, and
   * the time dimension of a multi partition). Bounds are dates or keys and compare as times.
   */
  between(from: string | undefined, to: string | undefined, now: Date): { ok: true; set: RangeSet } | { ok: false; message: string } {
    const t = this.time;
    if (!t) return { ok: false, message: 'a range (--from/--to) needs a time partition; name partitions with --partition' };
    const periods = this.periods(now);
    const bound = (text: string | undefined, isEnd: boolean): number | { message: string } => {
      if (text === undefined) return isEnd ? periods - 1 : 0;
      const key = readTimeKey(t.unit, text, { loose: true, isEnd });
      if (typeof key !== 'string') return key;
      return periodIndex(t.unit, t.start, keyTime(key));
    };
    const lo = bound(from, false);
    if (typeof lo !== 'number') return { ok: false, message: `--from: ${lo.message}` };
    const hi = bound(to, true);
    if (typeof hi !== 'number') return { ok: false, message: `--to: ${hi.message}` };
    if (from !== undefined && to !== undefined && hi < lo) return { ok: false, message: `--from ${from} is after --to ${to}` };
    // Wholly outside the declared partitions: none of them will ever be there (unlike future ones).
    const first = timeKey(t.unit, t.start);
    if (hi < 0) return { ok: false, message: `the range ends before the first partition ${first}` };
    if (t.declared !== null && lo >= t.declared)
      return {
        ok: false,
        message: `the range starts after the last partition ${timeKey(t.unit, periodStart(t.unit, t.start, t.declared - 1))}`,
      };
    const a = Math.max(0, lo);
    const b = Math.min(periods - 1, hi);
    return { ok: true, set: RangeSet.of(a * this.stride, (b + 1) * this.stride) };
  }

  /** The partitions whose dimension `name` has `value` (`--where region=jp`). */
  where(name: string, value: string, now: Date): { ok: true; set: RangeSet } | { ok: false; message: string } {
    if (this.dimensions.length === 0) return { ok: false, message: '--where applies to the dimensions of a multi partition' };
    if (!this.dimensions.includes(name))
      return { ok: false, message: `no dimension \`${name}\` (dimensions: ${this.dimensions.join(', ')})` };
    const periods = this.periods(now);
    if (this.time?.name === name) {
      const key = readTimeKey(this.time.unit, value);
      if (typeof key !== 'string') return { ok: false, message: key.message };
      const p = periodIndex(this.time.unit, this.time.start, keyTime(key));
      if (p < 0 || p >= periods) return { ok: true, set: RangeSet.EMPTY };
      return { ok: true, set: RangeSet.of(p * this.stride, (p + 1) * this.stride) };
    }
    const k = this.statics.findIndex((s) => s.name === name);
    const axis = this.statics[k]!;
    const at = axis.positions.get(value);
    if (at === undefined) return { ok: false, message: `\`${value}\` is not one of ${axis.values.join(', ')}` };
    // Within a period, the static axes are mixed-radix digits, the first one outermost.
    const inner = this.statics.slice(k + 1).reduce((n, s) => n * s.values.length, 1);
    const outer = this.stride / (inner * axis.values.length);
    const ranges: Array<[number, number]> = [];
    for (let p = 0; p < periods; p++)
      for (let o = 0; o < outer; o++) {
        const lo = p * this.stride + (o * axis.values.length + at) * inner;
        ranges.push([lo, lo + inner]);
      }
    return { ok: true, set: RangeSet.from(ranges) };
  }

  /** A short description, e.g. `daily from 2026-01-01 (UTC)` or `multi: date=daily from …, region=static (3 values)`. */
  describe(): string {
    const one = (d: DimensionDef): string =>
      d.kind === 'static'
        ? `static (${d.values.length} value${d.values.length === 1 ? '' : 's'})`
        : `${d.kind} from ${d.start}${d.end ? ` to ${d.end}` : ''} (UTC)`;
    return this.def.kind === 'multi' ? `multi: ${this.def.dimensions.map((d) => `${d.name}=${one(d.def)}`).join(', ')}` : one(this.def);
  }

  /** One key as an example of the form, for messages. */
  private example(now: Date): string {
    return this.size(now) > 0 ? `like \`${this.keyAt(0)}\`` : `of ${this.describe()}`;
  }
}

function timeAxis(name: string, def: TimeDef): TimeAxis {
  const start = keyTime(def.start);
  return { name, unit: def.kind, start, declared: def.end === null ? null : periodIndex(def.kind, start, keyTime(def.end)) + 1 };
}

function staticAxis(name: string, def: StaticDef): StaticAxis {
  return { name, values: def.values, positions: new Map(def.values.map((v, i) => [v, i])) };
}

const spaces = new WeakMap<PartitionDef, PartitionSpace>();

/** The space of a definition, built once per definition object. */
export function partitionSpace(def: PartitionDef): PartitionSpace {
  let space = spaces.get(def);
  if (!space) spaces.set(def, (space = new PartitionSpace(def)));
  return space;
}

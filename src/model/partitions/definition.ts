/**
 * Partition definitions of `@partitions_by` (spec §3), parsed: `hourly|daily|weekly|monthly(start=…[,
 * end=…])`, `static(a, b, c)` and `multi(dim=…, dim2=…)`. Time partitions are UTC calendar units; a
 * partition exists once its period is over (see `space.ts`). Errors carry the offset they point at.
 */

export const TIME_UNITS = ['hourly', 'daily', 'weekly', 'monthly'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

/** `start` and `end` are partition keys (see `time-window.ts`); `end` is the last partition, inclusive. */
export interface TimeDef {
  kind: TimeUnit;
  start: string;
  end: string | null;
}

export interface StaticDef {
  kind: 'static';
  values: string[];
}

export type DimensionDef = TimeDef | StaticDef;

export type PartitionDef = DimensionDef | { kind: 'multi'; dimensions: Array<{ name: string; def: DimensionDef }> };

export const PARTITION_FORM =
  'daily(start=YYYY-MM-DD[, end=YYYY-MM-DD]), hourly(start=YYYY-MM-DD[THH:00][, end=…]), weekly(start=<a Monday>[, end=…]), ' +
  'monthly(start=YYYY-MM[-01][, end=…]), static(a, b, …) or multi(name=<one of those>, …) with at most one time dimension';

export interface PartitionError {
  message: string;
  offset: number;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: PartitionError };

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isValidDate(text: string): boolean {
  if (!DATE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

export function isTimeDef(def: PartitionDef): def is TimeDef {
  return (TIME_UNITS as readonly string[]).includes(def.kind);
}

export function parsePartitions(text: string): Result<PartitionDef> {
  const src = text.trimEnd();
  const lead = src.length - src.trimStart().length;
  if (src.trim() === '') return err('empty declaration', 0);
  return parseKind(src.trim(), lead, true);
}

function err(message: string, offset: number): { ok: false; error: PartitionError } {
  return { ok: false, error: { message, offset } };
}

const KINDS = `${TIME_UNITS.join('|')}|static|multi`;

function parseKind(src: string, base: number, allowMulti: boolean): Result<PartitionDef> {
  const open = src.indexOf('(');
  if (open < 0 || !src.endsWith(')')) return err(`missing parentheses in \`${src}\``, base);
  const kind = src.slice(0, open).trim();
  const inner = src.slice(open + 1, -1);
  const innerBase = base + open + 1;
  if ((TIME_UNITS as readonly string[]).includes(kind)) return parseTime(kind as TimeUnit, inner, innerBase);
  switch (kind) {
    case 'static':
      return parseStatic(inner, innerBase);
    case 'multi':
      if (!allowMulti) return err('multi(…) cannot be nested inside multi(…)', base);
      return parseMulti(inner, innerBase);
    default:
      return err(`unknown kind \`${kind}\` (expected ${KINDS})`, base);
  }
}

/** Splits on commas that are not inside parentheses, keeping each piece's offset. */
function splitTopLevel(src: string, base: number): Array<{ text: string; offset: number }> {
  const out: Array<{ text: string; offset: number }> = [];
  let depth = 0;
  let start = 0;
  const push = (end: number) => {
    const raw = src.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    out.push({ text: raw.trim(), offset: base + start + lead });
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      push(i);
      start = i + 1;
    }
  }
  push(src.length);
  return out.filter((p) => p.text !== '');
}

/** What a time unit's `start`/`end` accept, for messages. */
const BOUND_FORM: Record<TimeUnit, string> = {
  hourly: 'YYYY-MM-DD or YYYY-MM-DDTHH:00',
  daily: 'YYYY-MM-DD',
  weekly: 'YYYY-MM-DD, a Monday',
  monthly: 'YYYY-MM or YYYY-MM-01',
};

function parseTime(kind: TimeUnit, inner: string, base: number): Result<PartitionDef> {
  let start: string | undefined;
  let end: string | null = null;
  for (const field of splitTopLevel(inner, base)) {
    const eq = field.text.indexOf('=');
    const key = eq < 0 ? '' : field.text.slice(0, eq).trim();
    const value =
      eq < 0
        ? ''
        : field.text
            .slice(eq + 1)
            .trim()
            .replace(/^["']|["']$/g, '');
    if (key !== 'start' && key !== 'end')
      return err(`bad field \`${field.text}\` (expected start=${BOUND_FORM[kind]} or end=${BOUND_FORM[kind]})`, field.offset);
    const raw = field.text.slice(eq + 1);
    const lead = raw.length - raw.trimStart().length;
    const at = field.offset + eq + 1 + lead;
    const bound = timeBound(kind, value, key === 'end');
    if (typeof bound !== 'string') return err(bound.message, at);
    if (key === 'start') start = bound;
    else end = bound;
  }
  if (start === undefined) return err(`${kind}: missing required \`start\``, base);
  if (end !== null && end < start) return err(`${kind}: end ${end} is before start ${start}`, base);
  return { ok: true, value: { kind, start, end } };
}

/**
 * A bound written by the user, as the key of the partition it names. A day ends an hourly
 * definition at its last hour, since `end` is inclusive.
 */
function timeBound(kind: TimeUnit, value: string, isEnd: boolean): string | { message: string } {
  const invalid = { message: `invalid date \`${value}\` (expected ${BOUND_FORM[kind]})` };
  switch (kind) {
    case 'daily':
      return isValidDate(value) ? value : invalid;
    case 'weekly':
      if (!isValidDate(value)) return invalid;
      if (new Date(`${value}T00:00:00Z`).getUTCDay() !== 1)
        return { message: `weekly: ${value} is not a Monday (weeks run Monday to Sunday, UTC)` };
      return value;
    case 'monthly': {
      const month = /^\d{4}-\d{2}$/.test(value) ? `${value}-01` : value;
      if (!isValidDate(month)) return invalid;
      if (!month.endsWith('-01')) return { message: `monthly: ${value} is not the first day of a month (expected YYYY-MM or YYYY-MM-01)` };
      return month;
    }
    case 'hourly': {
      if (isValidDate(value)) return `${value}T${isEnd ? '23' : '00'}:00`;
      const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):00(?::00)?$/.exec(value);
      if (!m || !isValidDate(m[1]!) || Number(m[2]) > 23) return invalid;
      return `${m[1]}T${m[2]}:00`;
    }
  }
}

function parseStatic(inner: string, base: number): Result<PartitionDef> {
  const values: string[] = [];
  for (const item of splitTopLevel(inner, base)) {
    const value = item.text.replace(/^["']|["']$/g, '');
    if (value.includes('|'))
      return err(`static value \`${value}\` contains \`|\`, which separates the parts of multi-partition keys`, item.offset);
    if (values.includes(value)) return err(`static value \`${value}\` is listed twice`, item.offset);
    values.push(value);
  }
  if (values.length === 0) return err('empty value list', base);
  return { ok: true, value: { kind: 'static', values } };
}

function parseMulti(inner: string, base: number): Result<PartitionDef> {
  const dims = new Map<string, DimensionDef>();
  let time: string | undefined;
  for (const field of splitTopLevel(inner, base)) {
    const eq = field.text.indexOf('=');
    const name = eq < 0 ? '' : field.text.slice(0, eq).trim();
    if (!/^[A-Za-z_]\w*$/.test(name))
      return err(`bad field \`${field.text}\` (expected name=daily(…), name=static(…) or another kind)`, field.offset);
    if (dims.has(name)) return err(`dimension \`${name}\` is declared twice`, field.offset);
    const rest = field.text.slice(eq + 1);
    const lead = rest.length - rest.trimStart().length;
    const def = parseKind(rest.trim(), field.offset + eq + 1 + lead, false);
    if (!def.ok) return def;
    if (isTimeDef(def.value)) {
      if (time !== undefined) return err(`multi(…) takes at most one time dimension (\`${time}\` is one already)`, field.offset);
      time = name;
    }
    dims.set(name, def.value as DimensionDef);
  }
  if (dims.size === 0) return err('empty value list', base);
  // Dimensions are kept in name order so that keys are stable whatever order they were written in.
  const dimensions = [...dims.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, def]) => ({ name, def }));
  return { ok: true, value: { kind: 'multi', dimensions } };
}

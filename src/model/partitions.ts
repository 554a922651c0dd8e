/**
 * Partition definitions of `@partitions_by` (spec §3): `daily(start=YYYY-MM-DD[, end=…])`,
 * `static(a, b, c)` and `multi(dim=daily(…), dim2=static(…))`. Parsing only; key expansion
 * belongs to the partitions feature.
 */

export type PartitionDef =
  | { kind: 'daily'; start: string; end: string | null }
  | { kind: 'static'; values: string[] }
  | { kind: 'multi'; dimensions: Array<{ name: string; def: DailyOrStatic }> };

export type DailyOrStatic = Extract<PartitionDef, { kind: 'daily' | 'static' }>;

export const PARTITION_FORM = 'daily(start=YYYY-MM-DD[, end=YYYY-MM-DD]), static(a, b, …) or multi(name=daily(…)|static(…), …)';

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

export function parsePartitions(text: string): Result<PartitionDef> {
  const src = text.trimEnd();
  const lead = src.length - src.trimStart().length;
  if (src.trim() === '') return err('empty declaration', 0);
  return parseKind(src.trim(), lead, true);
}

function err(message: string, offset: number): { ok: false; error: PartitionError } {
  return { ok: false, error: { message, offset } };
}

function parseKind(src: string, base: number, allowMulti: boolean): Result<PartitionDef> {
  const open = src.indexOf('(');
  if (open < 0 || !src.endsWith(')')) return err(`missing parentheses in \`${src}\``, base);
  const kind = src.slice(0, open).trim();
  const inner = src.slice(open + 1, -1);
  const innerBase = base + open + 1;
  switch (kind) {
    case 'daily':
      return parseDaily(inner, innerBase);
    case 'static':
      return parseStatic(inner, innerBase);
    case 'multi':
      if (!allowMulti) return err('multi(…) cannot be nested inside multi(…)', base);
      return parseMulti(inner, innerBase);
    default:
      return err(`unknown kind \`${kind}\` (expected daily|static|multi)`, base);
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

function parseDaily(inner: string, base: number): Result<PartitionDef> {
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
      return err(`bad field \`${field.text}\` (expected start=YYYY-MM-DD or end=YYYY-MM-DD)`, field.offset);
    const raw = field.text.slice(eq + 1);
    const lead = raw.length - raw.trimStart().length;
    if (!isValidDate(value)) return err(`invalid date \`${value}\` (expected YYYY-MM-DD)`, field.offset + eq + 1 + lead);
    if (key === 'start') start = value;
    else end = value;
  }
  if (start === undefined) return err('daily: missing required `start`', base);
  if (end !== null && end < start) return err(`daily: end ${end} is before start ${start}`, base);
  return { ok: true, value: { kind: 'daily', start, end } };
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
  const dims = new Map<string, DailyOrStatic>();
  for (const field of splitTopLevel(inner, base)) {
    const eq = field.text.indexOf('=');
    const name = eq < 0 ? '' : field.text.slice(0, eq).trim();
    if (!/^[A-Za-z_]\w*$/.test(name)) return err(`bad field \`${field.text}\` (expected name=daily(…) or name=static(…))`, field.offset);
    if (dims.has(name)) return err(`dimension \`${name}\` is declared twice`, field.offset);
    const rest = field.text.slice(eq + 1);
    const lead = rest.length - rest.trimStart().length;
    const def = parseKind(rest.trim(), field.offset + eq + 1 + lead, false);
    if (!def.ok) return def;
    dims.set(name, def.value as DailyOrStatic);
  }
  if (dims.size === 0) return err('empty value list', base);
  // Dimensions are kept in name order so that keys are stable whatever order they were written in.
  const dimensions = [...dims.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, def]) => ({ name, def }));
  return { ok: true, value: { kind: 'multi', dimensions } };
}

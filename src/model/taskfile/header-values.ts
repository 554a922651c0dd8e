/**
 * The values of header lines, parsed one form at a time (lists, key=value pairs, counts,
 * instants, `@test` and `@check` assertions), for `parse-header.ts`, which reports their errors.
 */
import { parseDatasetName } from '../names.js';
import type { HeaderLine } from './header-block.js';
import { splitQuotedSql } from './quoted.js';
import type { CheckDecl, CheckOp, TaskTest, TestAssertion } from './task.js';

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

export interface KvToken {
  key: string;
  /** The value without its surrounding double quotes. */
  value: string;
  /** The value as written: a dataset name keeps its quoted parts (`"Bike Mart"."station leaderboard"`). */
  raw: string;
  offset: number;
}

export type ErrorFn = (line: HeaderLine, offset: number, message: string, expected?: string) => void;

export function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'")))) return t.slice(1, -1);
  return t;
}

export function csv(text: string): Array<{ text: string; offset: number }> {
  const out: Array<{ text: string; offset: number }> = [];
  let start = 0;
  for (const piece of text.split(',')) {
    const lead = piece.length - piece.trimStart().length;
    const t = piece.trim();
    if (t !== '') out.push({ text: t, offset: start + lead });
    start += piece.length + 1;
  }
  return out;
}

/** `a:DATE, b:INT` or `a:DATE b:INT`. */
export function paramItems(text: string): Array<{ text: string; offset: number }> {
  return [...text.matchAll(/[^,\s:]+\s*:\s*[^,\s]*|[^,\s]+/g)].map((m) => ({ text: m[0], offset: m.index }));
}

export function datasetList(line: HeaderLine, error: ErrorFn): string[] {
  const out: string[] = [];
  for (const item of csv(line.value)) {
    const name = parseDatasetName(item.text);
    if (name) out.push(name);
    else
      error(
        line,
        item.offset,
        `invalid dataset name \`${item.text}\` in @${line.key}`,
        'a comma-separated list such as analytics.users, raw.events or file:data/x.csv',
      );
  }
  return out;
}

/**
 * `k=v` tokens separated by whitespace; a value may be double-quoted, wholly or in parts
 * (`"Bike Mart"."station leaderboard"`), to contain spaces.
 */
export function parseKv(text: string): KvToken[] {
  const out: KvToken[] = [];
  // An unclosed quote runs to the end, so that the whole value is reported rather than its pieces.
  const re = /\s*(?:([A-Za-z_]\w*)=)?((?:"(?:[^"]|"")*(?:"|$)|[^\s"])+)/y;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && m[0] !== '') {
    const raw = m[2]!;
    out.push({ key: m[1] ?? '', value: unquote(raw), raw, offset: m.index + m[0].length - m[0].trimStart().length });
  }
  return out;
}

/** Offset of a token's value, past its `key=`. */
export function valueOffset(t: KvToken): number {
  return t.key === '' ? t.offset : t.offset + t.key.length + 1;
}

export function parseCount(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) && n <= 0xffffffff ? n : undefined;
}

/** `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (space or `T`, UTC, optional `Z`), or epoch seconds. */
export function parseInstant(text: string): number | undefined {
  // Epoch seconds, up to the last instant a JavaScript Date can represent.
  if (/^\d+$/.test(text)) return Number(text) <= 8.64e12 ? Number(text) : undefined;
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?Z?)?$/.exec(text);
  if (!m) return undefined;
  const iso = `${m[1]}T${m[2] ?? '00'}:${m[3] ?? '00'}:${m[4] ?? '00'}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== iso.slice(0, 19)) return undefined;
  return ms / 1000;
}

const TEST_FORM = '"SQL" followed by expect_empty, expect_non_empty, expect N, expect_gt N or expect_lt N';

export function parseTest(value: string, index: number, line: HeaderLine, error: ErrorFn): TaskTest | undefined {
  const q = splitQuotedSql(value, '@test');
  if (!q.ok) {
    error(line, q.offset, q.message, TEST_FORM);
    return undefined;
  }
  const { sql, sqlOffset, rest, restOffset } = q.value;
  const [verb = '', arg, ...extra] = rest.split(/\s+/).filter((s) => s !== '');
  let assertion: TestAssertion | undefined;
  if ((verb === 'expect_empty' || verb === 'expect_non_empty') && arg === undefined) assertion = { kind: verb };
  else if (
    (verb === 'expect' || verb === 'expect_gt' || verb === 'expect_lt') &&
    arg !== undefined &&
    NUMBER.test(arg) &&
    extra.length === 0
  ) {
    assertion = { kind: verb, value: Number(arg) };
  } else if (verb === 'expect_eq' && arg !== undefined && NUMBER.test(arg) && extra.length === 0) {
    assertion = { kind: 'expect', value: Number(arg) };
  }
  if (!assertion) {
    error(line, restOffset, rest === '' ? '@test is missing its assertion' : `invalid @test assertion \`${rest}\``, TEST_FORM);
    return undefined;
  }
  return { index, sql, assertion, assertionText: rest, line: line.line, col: line.valueCol + sqlOffset };
}

const CHECK_FORM = 'name=<check> "SQL" expect eq|ne|gt|ge|lt|le <value>, expect between <lo>,<hi>, or expect_not_null';

export function parseCheck(
  value: string,
  line: HeaderLine,
  error: ErrorFn,
): { decl: CheckDecl; inlineSeverity: boolean; nameOffset: number } | undefined {
  // The SQL opens at the first `"` that does not open a `key="…"` field value.
  const headEnd = /^(?:\s*[A-Za-z_]\w*=(?:"[^"]*"|[^\s"]+))*/.exec(value)![0].length;
  const quote = value.indexOf('"', headEnd);
  const head = quote < 0 ? value : value.slice(0, quote);
  const fields = parseKv(head);
  const nameField = fields.find((f) => f.key === 'name');
  // `name=` followed by a space reads as a bare `name=` token: the name is there, but empty.
  const emptyName = fields.find((f) => f.key === '' && f.value === 'name=');
  if (!nameField && emptyName) {
    error(line, emptyName.offset + 'name='.length, '@check has an empty name', CHECK_FORM);
    return undefined;
  }
  if (!nameField) {
    error(line, 0, '@check is missing `name=`', CHECK_FORM);
    return undefined;
  }
  if (!/^[A-Za-z_][\w-]*$/.test(nameField.value)) {
    error(
      line,
      valueOffset(nameField),
      nameField.value === '' ? '@check has an empty name' : `invalid check name \`${nameField.value}\``,
      CHECK_FORM,
    );
    return undefined;
  }
  let severity: 'error' | 'warn' | undefined;
  for (const f of fields) {
    if (f === nameField) continue;
    if (f.key === 'severity' && (f.value === 'error' || f.value === 'warn')) severity = f.value;
    else if (f.key === 'severity') {
      // Name the two values accepted (as `@check_severity` does), not the whole @check form.
      error(line, valueOffset(f), `invalid check severity \`${f.value}\``, 'error or warn');
      return undefined;
    } else {
      error(line, f.offset, `unexpected \`${f.key ? `${f.key}=${f.value}` : f.value}\` in @check`, CHECK_FORM);
      return undefined;
    }
  }
  const q = splitQuotedSql(value.slice(quote < 0 ? value.length : quote), '@check');
  const base = quote < 0 ? value.length : quote;
  if (!q.ok) {
    error(line, base + q.offset, q.message, CHECK_FORM);
    return undefined;
  }
  const { sql, sqlOffset, rest, restOffset } = q.value;
  const at = base + restOffset;
  const m = /^(\S+)\s*(\S*)\s*(.*)$/.exec(rest);
  const verb = m?.[1] ?? '';
  let op: CheckOp | undefined;
  let v: string | null = null;
  if (verb === 'expect_not_null' && !m?.[2]) op = 'not_null';
  else if (verb === 'expect') {
    const word = m?.[2] ?? '';
    const tail = (m?.[3] ?? '').trim();
    if (word === '') {
      error(line, at, '@check is missing the value after `expect`', CHECK_FORM);
      return undefined;
    }
    if (word === 'between') {
      const bounds = tail.split(',').map((s) => s.trim());
      if (bounds.length !== 2 || !bounds.every((b) => NUMBER.test(b)) || Number(bounds[0]) > Number(bounds[1])) {
        error(line, at, `invalid bounds \`${tail}\` for between`, 'expect between <lo>,<hi> with numbers lo <= hi');
        return undefined;
      }
      op = 'between';
      v = `${Number(bounds[0])},${Number(bounds[1])}`;
    } else if ((['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const).includes(word as 'eq')) {
      if (tail === '') {
        error(line, at, `@check is missing the value after \`expect ${word}\``, CHECK_FORM);
        return undefined;
      }
      if (word !== 'eq' && word !== 'ne' && !NUMBER.test(tail)) {
        error(line, at, `\`expect ${word}\` needs a number, got \`${tail}\``, CHECK_FORM);
        return undefined;
      }
      op = word as CheckOp;
      v = unquote(tail);
    } else if (tail === '') {
      // `expect 0` reads as "expect eq 0" (the original rejected it although its docs used it).
      op = 'eq';
      v = unquote(word);
    } else {
      error(line, at, `unknown op \`${word}\` (expected eq|ne|gt|ge|lt|le|between)`, CHECK_FORM);
      return undefined;
    }
  } else {
    error(line, at, rest === '' ? '@check is missing its expectation' : `invalid @check expectation \`${rest}\``, CHECK_FORM);
    return undefined;
  }
  return {
    decl: {
      name: nameField.value,
      sql,
      op,
      value: v,
      severity: severity ?? 'error',
      line: line.line,
      col: line.valueCol + base + sqlOffset,
    },
    inlineSeverity: severity !== undefined,
    nameOffset: valueOffset(nameField),
  };
}

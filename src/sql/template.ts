/**
 * `{{ variable }}` substitution in task bodies (spec §4), aware of where a placeholder stands:
 * in SQL code the value becomes a literal (`'2026-01-01 00:00:00'`, `42`); inside a string
 * literal or quoted identifier it is inserted as text, escaped for that quoting; inside a
 * comment it is left alone. Only the variables below exist; anything else is reported by
 * `validate` and `register` rather than failing at run time.
 */
import { sqlLiteral } from '../model/templating.js';
import { tokenize, type Token } from './tokenizer.js';

export const TEMPLATE_VARIABLES = ['last_processed_at', 'now', 'run_id'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/**
 * The interval of an interval task's batch (spec §4): `${interval_start}`/`${interval_end}`
 * (TIMESTAMP, UTC) and `${interval_start_ts}`/`${interval_end_ts}` (epoch seconds, BIGINT). They
 * are bound as the parameters `$interval_start`, … (never spliced into the SQL).
 */
export const INTERVAL_VARIABLES = ['interval_start', 'interval_end', 'interval_start_ts', 'interval_end_ts'] as const;
export type IntervalVariable = (typeof INTERVAL_VARIABLES)[number];

export function isIntervalPlaceholder(p: Pick<Placeholder, 'dollar' | 'expression' | 'context'>): boolean {
  return p.dollar && p.context === 'code' && (INTERVAL_VARIABLES as readonly string[]).includes(p.expression);
}

/**
 * An interval task's statement with `${interval_start}` … written as the parameters
 * `$interval_start` … (in SQL code only: text inside literals and comments is left alone).
 */
export function intervalParameters(sql: string): string {
  if (!sql.includes('${')) return sql;
  let out = '';
  let last = 0;
  for (const t of tokenize(sql)) {
    if (t.kind !== 'placeholder') continue;
    const p = placeholderOf(t.text, t.start, 'code');
    if (!isIntervalPlaceholder(p)) continue;
    // Padded to the placeholder's length, so that DuckDB's error positions still point into the text as written.
    out += sql.slice(last, t.start) + `$${p.expression}`.padEnd(t.end - t.start, ' ');
    last = t.end;
  }
  return last === 0 ? sql : out + sql.slice(last);
}

export interface Placeholder {
  /** The whole placeholder as written, e.g. `{{ run_id }}` or `${asset}`. */
  text: string;
  /** What is between the braces, trimmed. */
  expression: string;
  /** The variable when the expression is a known one. */
  variable: TemplateVariable | undefined;
  /** `${…}` rather than `{{ … }}`. */
  dollar: boolean;
  context: 'code' | 'string';
  /** 0-based offsets into the scanned text. */
  start: number;
  end: number;
}

const IN_QUOTES = /\{\{(.*?)\}\}/gs;

function placeholderOf(text: string, start: number, context: Placeholder['context']): Placeholder {
  const dollar = text.startsWith('${');
  const expression = (dollar ? text.slice(2, -1) : text.slice(2, -2)).trim();
  const variable = (TEMPLATE_VARIABLES as readonly string[]).includes(expression) && !dollar ? (expression as TemplateVariable) : undefined;
  return { text, expression, variable, dollar, context, start, end: start + text.length };
}

function inQuoted(token: Token): Placeholder[] {
  const out: Placeholder[] = [];
  for (const m of token.text.matchAll(IN_QUOTES)) out.push(placeholderOf(m[0], token.start + m.index, 'string'));
  return out;
}

/** Every placeholder of a body outside comments, in order. Throws the tokenizer's `SqlLexError` on unterminated input. */
export function findPlaceholders(sql: string): Placeholder[] {
  if (!sql.includes('{{') && !sql.includes('${')) return [];
  const out: Placeholder[] = [];
  for (const t of tokenize(sql)) {
    if (t.kind === 'placeholder') out.push(placeholderOf(t.text, t.start, 'code'));
    else if ((t.kind === 'string' || t.kind === 'qident') && t.text.includes('{{')) out.push(...inQuoted(t));
  }
  return out;
}

/** Escapes text for the quoting of the token it is inserted into. */
function escapeFor(token: Token, value: string): string {
  if (token.kind === 'qident') return value.replace(/"/g, '""');
  if (token.text.startsWith('$')) return value;
  const backslashes = /^[eE]'/.test(token.text);
  const quoted = value.replace(/'/g, "''");
  return backslashes ? quoted.replace(/\\/g, '\\\\') : quoted;
}

/** Each variable's raw value, for the variables a text uses. */
export type TemplateValues = Readonly<Partial<Record<TemplateVariable, string>>>;

/** One placeholder to replace: its offsets in the template and the text that stands for it. */
interface Substitution {
  start: number;
  end: number;
  text: string;
}

function substitutions(sql: string, values: TemplateValues): Substitution[] {
  if (!sql.includes('{{')) return [];
  const out: Substitution[] = [];
  const value = (p: Placeholder) => (p.variable === undefined ? undefined : values[p.variable]);
  for (const t of tokenize(sql)) {
    if (t.kind === 'placeholder') {
      const v = value(placeholderOf(t.text, t.start, 'code'));
      if (v !== undefined) out.push({ start: t.start, end: t.end, text: sqlLiteral(v) });
    } else if ((t.kind === 'string' || t.kind === 'qident') && t.text.includes('{{')) {
      for (const p of inQuoted(t)) {
        const v = value(p);
        if (v !== undefined) out.push({ start: p.start, end: p.end, text: escapeFor(t, v) });
      }
    }
  }
  return out;
}

/**
 * Replaces the known placeholders of `sql` with their values (unknown ones stay as written,
 * for DuckDB to report). `values` maps each variable the text uses to its raw value.
 */
export function renderTemplate(sql: string, values: TemplateValues): string {
  let out = '';
  let last = 0;
  for (const s of substitutions(sql, values)) {
    out += sql.slice(last, s.start) + s.text;
    last = s.end;
  }
  return last === 0 ? sql : out + sql.slice(last);
}

/**
 * The offset in `sql` of what is at `offset` in `renderTemplate(sql, values)`: DuckDB reports
 * errors in the text it ran, the user reads the template. Inside a substituted value, the
 * placeholder's start.
 */
export function templateOffset(sql: string, offset: number, values: TemplateValues): number {
  let shift = 0;
  for (const s of substitutions(sql, values)) {
    const start = s.start + shift;
    if (offset < start) break;
    if (offset < start + s.text.length) return s.start;
    shift += s.text.length - (s.end - s.start);
  }
  return offset - shift;
}

/** The variables a text uses, in first-use order. */
export function variablesUsed(sql: string): TemplateVariable[] {
  return [...new Set(findPlaceholders(sql).flatMap((p) => (p.variable ? [p.variable] : [])))];
}

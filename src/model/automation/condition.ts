/**
 * The declarative automation condition DSL of `@automation` (spec §2): a boolean expression
 * over atoms such as `eager()`, `on_cron("0 6 * * *")` and `on_interval("daily")`, with
 * `NOT`/`!`, `AND`/`&`/`&&` and `OR`/`|`/`||`. Precedence is NOT > AND > OR, binary
 * operators associate to the left. This module parses and prints; `evaluate.ts` evaluates.
 */
import { checkCron } from '../cron.js';
import { INTERVAL_UNIT_FORM, parseIntervalUnit } from '../interval-unit.js';

export const ATOMS = ['eager', 'on_cron', 'on_interval', 'on_missing', 'freshness_violated', 'in_progress'] as const;
export type AtomName = (typeof ATOMS)[number];

export type Condition =
  | { kind: 'atom'; name: AtomName; arg?: string }
  | { kind: 'not'; operand: Condition }
  | { kind: 'and' | 'or'; left: Condition; right: Condition };

export interface ConditionError {
  message: string;
  /** 0-based offset into the expression text. */
  offset: number;
}

export const CONDITION_FORM =
  'atoms eager, on_cron("cron"), on_interval("unit"), on_missing, freshness_violated, in_progress combined with AND, OR, NOT and parentheses';

type Token =
  | { t: 'lparen' | 'rparen' | 'and' | 'or' | 'not' | 'comma' | 'end'; pos: number }
  | { t: 'ident'; value: string; pos: number }
  | { t: 'string'; value: string; pos: number };

class ParseFailure extends Error {
  constructor(readonly detail: ConditionError) {
    super(detail.message);
  }
}

function fail(message: string, offset: number): never {
  throw new ParseFailure({ message, offset });
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(') out.push({ t: 'lparen', pos: i++ });
    else if (c === ')') out.push({ t: 'rparen', pos: i++ });
    else if (c === ',') out.push({ t: 'comma', pos: i++ });
    else if (c === '!') out.push({ t: 'not', pos: i++ });
    else if (c === '&' || c === '|') {
      out.push({ t: c === '&' ? 'and' : 'or', pos: i });
      i += src[i + 1] === c ? 2 : 1;
    } else if (c === '"' || c === "'") {
      const close = src.indexOf(c, i + 1);
      if (close < 0) fail('unterminated string literal', i);
      out.push({ t: 'string', value: src.slice(i + 1, close), pos: i });
      i = close + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /[A-Za-z_]\w*/y;
      m.lastIndex = i;
      const word = m.exec(src)![0];
      const lower = word.toLowerCase();
      if (lower === 'and' || lower === 'or' || lower === 'not') out.push({ t: lower, pos: i });
      else out.push({ t: 'ident', value: word, pos: i });
      i += word.length;
    } else {
      fail(`unexpected \`${c}\``, i);
    }
  }
  out.push({ t: 'end', pos: src.length });
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }

  parse(): Condition {
    const expr = this.or();
    const tok = this.peek();
    if (tok.t !== 'end') fail(`unexpected ${describe(tok)} after a complete expression`, tok.pos);
    return expr;
  }

  private or(): Condition {
    let left = this.and();
    while (this.peek().t === 'or') {
      this.next();
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Condition {
    let left = this.not();
    while (this.peek().t === 'and') {
      this.next();
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Condition {
    if (this.peek().t === 'not') {
      this.next();
      return { kind: 'not', operand: this.not() };
    }
    return this.primary();
  }

  private primary(): Condition {
    const tok = this.next();
    if (tok.t === 'lparen') {
      const inner = this.or();
      const close = this.next();
      if (close.t !== 'rparen') fail(`expected \`)\` but found ${describe(close)}`, close.pos);
      return inner;
    }
    if (tok.t === 'ident') return this.atom(tok.value, tok.pos);
    fail(tok.t === 'end' ? 'expression ends where an atom was expected' : `expected an atom but found ${describe(tok)}`, tok.pos);
  }

  private atom(word: string, pos: number): Condition {
    const name = word.toLowerCase();
    if (!(ATOMS as readonly string[]).includes(name)) {
      fail(`unknown atom \`${word}\` (expected ${ATOMS.join('|')})`, pos);
    }
    const atomName = name as AtomName;
    let arg: { value: string; pos: number } | undefined;
    if (this.peek().t === 'lparen') {
      this.next();
      const tok = this.peek();
      if (tok.t === 'string') {
        this.next();
        arg = { value: tok.value, pos: tok.pos };
      } else if (tok.t !== 'rparen') {
        fail(`argument of \`${atomName}\` must be a quoted string, e.g. ${atomName}("…")`, tok.pos);
      }
      const close = this.next();
      if (close.t !== 'rparen') fail(`expected \`)\` after the argument of \`${atomName}\``, close.pos);
    }
    return checkAtom(atomName, arg, pos);
  }
}

function checkAtom(name: AtomName, arg: { value: string; pos: number } | undefined, pos: number): Condition {
  if (name === 'on_cron' || name === 'on_interval') {
    if (!arg || arg.value.trim() === '') {
      const example = name === 'on_cron' ? 'on_cron("0 6 * * *")' : 'on_interval("daily")';
      fail(`\`${name}\` requires an argument, e.g. ${example}`, pos);
    }
    if (name === 'on_cron') {
      const cron = checkCron(arg.value);
      if (!cron.ok) fail(cron.message, arg.pos);
      return { kind: 'atom', name, arg: cron.expr };
    }
    const unit = parseIntervalUnit(arg.value);
    if (!unit) fail(`invalid interval unit \`${arg.value}\` (expected ${INTERVAL_UNIT_FORM})`, arg.pos);
    return { kind: 'atom', name, arg: unit.canonical };
  }
  // Arguments given to atoms that take none are ignored, as in the original.
  return { kind: 'atom', name };
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'ident':
      return `\`${tok.value}\``;
    case 'string':
      return `string "${tok.value}"`;
    case 'end':
      return 'end of expression';
    case 'lparen':
      return '`(`';
    case 'rparen':
      return '`)`';
    case 'comma':
      return '`,`';
    default:
      return tok.t.toUpperCase();
  }
}

export function parseCondition(text: string): { ok: true; condition: Condition } | { ok: false; error: ConditionError } {
  if (text.trim() === '') return { ok: false, error: { message: 'empty expression', offset: 0 } };
  try {
    return { ok: true, condition: new Parser(lex(text)).parse() };
  } catch (err) {
    if (err instanceof ParseFailure) return { ok: false, error: err.detail };
    throw err;
  }
}

/** Canonical text: atoms always with `()`, arguments double-quoted, OR parenthesised inside AND. */
export function formatCondition(c: Condition): string {
  switch (c.kind) {
    case 'atom':
      return c.arg === undefined ? `${c.name}()` : `${c.name}("${c.arg}")`;
    case 'not':
      return c.operand.kind === 'and' || c.operand.kind === 'or'
        ? `NOT (${formatCondition(c.operand)})`
        : `NOT ${formatCondition(c.operand)}`;
    case 'and':
      return `${andOperand(c.left)} AND ${andOperand(c.right)}`;
    case 'or':
      return `${formatCondition(c.left)} OR ${formatCondition(c.right)}`;
  }
}

function andOperand(c: Condition): string {
  return c.kind === 'or' ? `(${formatCondition(c)})` : formatCondition(c);
}

/** The first `on_interval` unit in the tree (left to right), which sets the asset's interval unit. */
export function firstIntervalUnit(c: Condition): string | undefined {
  switch (c.kind) {
    case 'atom':
      return c.name === 'on_interval' ? c.arg : undefined;
    case 'not':
      return firstIntervalUnit(c.operand);
    default:
      return firstIntervalUnit(c.left) ?? firstIntervalUnit(c.right);
  }
}

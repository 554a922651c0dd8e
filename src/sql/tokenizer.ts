/**
 * A lexical scanner for DuckDB SQL: enough to split statements and to find the clause
 * boundaries of DDL/DML, never to understand expressions (DuckDB's own parser does that).
 * It knows strings ('…' with '' escapes, E'…' with backslash escapes, $tag$…$tag$), quoted
 * identifiers, nested block comments, line comments, parameters and the templating
 * placeholders `{{ var }}` and `${var}` that duck-orch substitutes before execution.
 */

export type TokenKind = 'word' | 'qident' | 'string' | 'number' | 'param' | 'placeholder' | 'punct' | 'op';

export interface Token {
  kind: TokenKind;
  text: string;
  /** 0-based offsets into the scanned text. */
  start: number;
  end: number;
  /** Upper-cased text for words, for keyword comparison. */
  upper: string;
  /** Parenthesis depth at which the token sits (the `(` itself is at the outer depth). */
  depth: number;
}

export interface SqlStatement {
  text: string;
  /** Offset of the statement's first token in the scanned text. */
  start: number;
  tokens: Token[];
}

export class SqlLexError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;
const NUMBER = /(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+/y;
const PARAM = /\$(?:\d+|[A-Za-z_][A-Za-z0-9_]*)|\?/y;
const DOLLAR_TAG = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;
const OPERATOR = /::|->>|->|<=|>=|<>|!=|\|\||\*\*|\/\/|=>|:=|[-+*/%^<>=~!@&|#]/y;

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  const push = (kind: TokenKind, start: number, end: number) => {
    const text = sql.slice(start, end);
    if (kind === 'punct' && text === ')') depth = Math.max(0, depth - 1);
    tokens.push({ kind, text, start, end, upper: kind === 'word' ? text.toUpperCase() : text, depth });
    if (kind === 'punct' && text === '(') depth++;
  };
  const sticky = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    return re.exec(sql)?.[0];
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'" || ((c === 'E' || c === 'e') && next === "'")) {
      const start = i;
      i = skipString(sql, c === "'" ? i : i + 1, c !== "'");
      push('string', start, i);
    } else if (c === '"') {
      const start = i;
      i = skipQuoted(sql, i, '"', 'quoted identifier');
      push('qident', start, i);
    } else if (c === '{' && next === '{') {
      const close = sql.indexOf('}}', i + 2);
      if (close < 0) throw new SqlLexError('unterminated `{{` placeholder', i);
      push('placeholder', i, close + 2);
      i = close + 2;
    } else if (c === '$' && next === '{') {
      const close = sql.indexOf('}', i + 2);
      if (close < 0) throw new SqlLexError('unterminated `${` placeholder', i);
      push('placeholder', i, close + 1);
      i = close + 1;
    } else if (c === '$' && sticky(DOLLAR_TAG) !== undefined && !/^\$\d/.test(sql.slice(i, i + 2))) {
      const tag = sticky(DOLLAR_TAG)!;
      // `$name` followed by `$` is a dollar-quote tag; a plain `$name` is a parameter.
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) throw new SqlLexError(`unterminated dollar-quoted string ${tag}`, i);
      push('string', i, close + tag.length);
      i = close + tag.length;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const w = sticky(WORD)!;
      push('word', i, i + w.length);
      i += w.length;
    } else if (/[0-9.]/.test(c) && sticky(NUMBER) !== undefined) {
      const n = sticky(NUMBER)!;
      push('number', i, i + n.length);
      i += n.length;
    } else if (c === '$' || c === '?') {
      const p = sticky(PARAM);
      if (p === undefined) throw new SqlLexError(`unexpected \`${c}\``, i);
      push('param', i, i + p.length);
      i += p.length;
    } else if ('(),;.[]{}'.includes(c)) {
      push('punct', i, i + 1);
      i++;
    } else {
      const op = sticky(OPERATOR);
      if (op === undefined) throw new SqlLexError(`unexpected character \`${c}\``, i);
      push('op', i, i + op.length);
      i += op.length;
    }
  }
  return tokens;
}

function skipBlockComment(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  throw new SqlLexError('unterminated /* comment', from);
}

function skipString(sql: string, quoteAt: number, backslashEscapes: boolean): number {
  let i = quoteAt + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === "'") {
      if (sql[i + 1] === "'") {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw new SqlLexError('unterminated string literal', quoteAt);
}

function skipQuoted(sql: string, at: number, quote: string, what: string): number {
  let i = at + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  throw new SqlLexError(`unterminated ${what}`, at);
}

/** Splits at top-level `;`, dropping empty statements; comments between statements are not part of any. */
export function splitStatements(sql: string): SqlStatement[] {
  const tokens = tokenize(sql);
  const out: SqlStatement[] = [];
  let current: Token[] = [];
  const flush = () => {
    if (current.length > 0) {
      const start = current[0]!.start;
      const end = current[current.length - 1]!.end;
      out.push({ text: sql.slice(start, end), start, tokens: current.map((t) => ({ ...t, start: t.start - start, end: t.end - start })) });
    }
    current = [];
  };
  for (const t of tokens) {
    if (t.kind === 'punct' && t.text === ';') flush();
    else current.push(t);
  }
  flush();
  return out;
}

/** Index of the `)` that closes the group opened by the `(` at `open`, or the token count when it is not closed. */
export function closingParen(tokens: readonly Token[], open: number): number {
  const depth = tokens[open]!.depth;
  for (let k = open + 1; k < tokens.length; k++) if (tokens[k]!.text === ')' && tokens[k]!.depth === depth) return k;
  return tokens.length;
}

/** Unquotes a word or quoted identifier token into its identifier text. */
export function identText(t: Token): string {
  return t.kind === 'qident' ? t.text.slice(1, -1).replace(/""/g, '"') : t.text;
}

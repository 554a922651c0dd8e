/**
 * The quoted SQL of `@test "SQL" assertion` and `@check name=N "SQL" expect …`.
 *
 * The original cut the SQL at the first `"` after the opening one, so a query could not
 * quote an identifier. Here the SQL runs to the last `"` that is followed by an `expect…`
 * assertion, so `SELECT count(*) FROM "My Table"` works unescaped.
 */

export interface QuotedSql {
  sql: string;
  /** 0-based offset of the SQL's first character in the input. */
  sqlOffset: number;
  /** Text after the closing quote, trimmed, and its 0-based offset in the input. */
  rest: string;
  restOffset: number;
}

export type QuotedResult = { ok: true; value: QuotedSql } | { ok: false; message: string; offset: number };

export function splitQuotedSql(text: string, what: string): QuotedResult {
  const open = text.indexOf('"');
  const before = open < 0 ? text : text.slice(0, open);
  if (open < 0 || before.trim() !== '') {
    // Point at where the unquoted SQL starts, not at a `"` somewhere inside it.
    return {
      ok: false,
      message: `${what} expects quoted SQL, e.g. "SELECT count(*) FROM t" expect 0`,
      offset: text.length - text.trimStart().length,
    };
  }
  const assertion = /"\s+(expect\w*)/g;
  let close = -1;
  for (let m = assertion.exec(text); m; m = assertion.exec(text)) {
    if (m.index > open) close = m.index;
  }
  if (close < 0) {
    const last = text.lastIndexOf('"');
    if (last <= open) return { ok: false, message: `unterminated ${what} SQL string: add the closing \`"\``, offset: open };
    close = last;
  }
  const inner = text.slice(open + 1, close);
  const sql = inner.trim();
  if (sql === '') return { ok: false, message: `${what} SQL is empty`, offset: open };
  const after = text.slice(close + 1);
  const lead = after.length - after.trimStart().length;
  const sqlOffset = open + 1 + inner.length - inner.trimStart().length;
  return { ok: true, value: { sql, sqlOffset, rest: after.trim(), restOffset: close + 1 + lead } };
}

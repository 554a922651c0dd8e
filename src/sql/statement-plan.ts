/**
 * The "envelope" of one statement: which table or file it writes, and which query texts
 * carry what it reads. DuckDB's `json_serialize_sql` only serialises SELECT statements, so
 * for CREATE … AS, INSERT, UPDATE, DELETE, MERGE and COPY the target is read from tokens and
 * the reading parts (the query, the FROM/USING lists, the conditions, subqueries) are
 * re-assembled as SELECTs that DuckDB's own parser then analyses.
 */
import { canonicalFileName, canonicalTableName } from '../model/names.js';
import { identText, type SqlStatement, type Token } from './tokenizer.js';

export type StatementKind =
  'select' | 'create_table' | 'create_view' | 'insert' | 'update' | 'delete' | 'merge' | 'truncate' | 'copy' | 'transaction' | 'other';

/** A SELECT text to analyse, and simpler texts to fall back on if DuckDB cannot parse it. */
export interface ReadQuery {
  text: string;
  fallback: string[];
}

export interface StatementPlan {
  kind: StatementKind;
  /** Canonical names this statement writes (tables or `file:` paths). */
  writes: string[];
  /** Written names that are temporary: visible to later statements of the task only. */
  temporary: string[];
  /** Names read directly by the envelope (e.g. `COPY t TO …`). */
  reads: string[];
  queries: ReadQuery[];
}

const QUERY_START = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', '(', 'PIVOT', 'UNPIVOT', 'SUMMARIZE', 'DESCRIBE', 'SHOW']);
const TRANSACTION = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT']);

class Cursor {
  i = 0;
  constructor(
    readonly tokens: Token[],
    readonly text: string,
  ) {}

  get done(): boolean {
    return this.i >= this.tokens.length;
  }
  peek(k = 0): Token | undefined {
    return this.tokens[this.i + k];
  }
  is(word: string, k = 0): boolean {
    const t = this.peek(k);
    return t !== undefined && (t.kind === 'word' || t.kind === 'punct') && t.upper === word;
  }
  accept(...words: string[]): boolean {
    if (words.every((w, k) => this.is(w, k))) {
      this.i += words.length;
      return true;
    }
    return false;
  }
  /** A possibly qualified name: ident(.ident)*. */
  name(): string[] | undefined {
    const parts: string[] = [];
    for (;;) {
      const t = this.peek();
      if (!t || (t.kind !== 'word' && t.kind !== 'qident')) return parts.length ? parts : undefined;
      parts.push(identText(t));
      this.i++;
      if (!(this.peek()?.text === '.' && this.peek()?.kind === 'punct')) return parts;
      this.i++;
    }
  }
  /** Skips a balanced parenthesised group starting at the cursor. */
  skipGroup(): void {
    const open = this.peek();
    if (open?.text !== '(') return;
    const depth = open.depth;
    this.i++;
    while (!this.done && !(this.peek()!.text === ')' && this.peek()!.depth === depth)) this.i++;
    this.i++;
  }
  /** Index of the first token at or after `from` at the statement's top level matching one of `words`. */
  findTop(words: string[], from = this.i, depth = this.tokens[0]?.depth ?? 0): number {
    for (let k = from; k < this.tokens.length; k++) {
      const t = this.tokens[k]!;
      if (t.depth === depth && t.kind === 'word' && words.includes(t.upper)) return k;
    }
    return this.tokens.length;
  }
  slice(from: number, to: number): string {
    if (from >= to || from >= this.tokens.length) return '';
    return this.text.slice(this.tokens[from]!.start, this.tokens[Math.min(to, this.tokens.length) - 1]!.end);
  }
}

/** Texts of every parenthesised subquery in a token range, for when a clause cannot be re-assembled. */
function subqueries(c: Cursor, from: number, to: number): string[] {
  const out: string[] = [];
  for (let k = from; k < to; k++) {
    const t = c.tokens[k]!;
    const next = c.tokens[k + 1];
    if (t.text === '(' && t.kind === 'punct' && next && next.kind === 'word' && ['SELECT', 'WITH', 'FROM', 'VALUES'].includes(next.upper)) {
      let end = k + 1;
      while (end < to && !(c.tokens[end]!.text === ')' && c.tokens[end]!.depth === t.depth)) end++;
      out.push(c.slice(k + 1, end));
      k = end;
    }
  }
  return out;
}

function query(c: Cursor, text: string, from: number, to: number): ReadQuery {
  return { text, fallback: subqueries(c, from, to) };
}

function tableName(parts: string[]): string {
  return canonicalTableName(parts);
}

function isTempName(parts: string[]): boolean {
  return parts.length >= 2 && parts[0]!.toLowerCase() === 'temp';
}

/** Prefixes a `WITH …` clause to a re-assembled query so that CTE names resolve as they would in the statement. */
function withPrefix(prefix: string, q: string): string {
  if (prefix === '') return q;
  return /^\s*with\b/i.test(q) ? `${prefix} SELECT * FROM (${q}) AS __duckorch_q` : `${prefix} ${q}`;
}

export function planStatement(stmt: SqlStatement, text: string = stmt.text): StatementPlan {
  const c = new Cursor(stmt.tokens, text);
  const plan: StatementPlan = { kind: 'other', writes: [], temporary: [], reads: [], queries: [] };
  const first = c.peek();
  if (!first) return plan;
  if (first.kind === 'punct' && first.text === '(') return { ...plan, kind: 'select', queries: [{ text, fallback: [] }] };
  if (first.kind !== 'word') return plan;

  let prefix = '';
  if (first.upper === 'WITH') {
    c.i++;
    c.accept('RECURSIVE');
    for (;;) {
      c.name();
      if (c.peek()?.text === '(') c.skipGroup();
      c.accept('USING', 'KEY');
      if (c.peek()?.text === '(') c.skipGroup();
      c.accept('AS');
      c.accept('NOT');
      c.accept('MATERIALIZED');
      c.skipGroup();
      if (c.peek()?.text === ',') {
        c.i++;
        continue;
      }
      break;
    }
    const main = c.peek();
    if (!main || QUERY_START.has(main.upper)) return { ...plan, kind: 'select', queries: [{ text, fallback: [] }] };
    prefix = c.slice(0, c.i);
  }

  const head = c.peek()!.upper;
  if (QUERY_START.has(head)) {
    if (head === 'PIVOT' || head === 'UNPIVOT') {
      // The simplified PIVOT statement is not serialisable; what it reads is its source.
      const on = c.findTop(['ON', 'USING', 'GROUP'], c.i + 1);
      return {
        ...plan,
        kind: 'select',
        queries: [query(c, withPrefix(prefix, `SELECT * FROM ${c.slice(c.i + 1, on)}`), c.i + 1, c.tokens.length)],
      };
    }
    return { ...plan, kind: 'select', queries: [{ text, fallback: [] }] };
  }
  if (TRANSACTION.has(head)) return { ...plan, kind: 'transaction' };
  c.i++;
  switch (head) {
    case 'CREATE':
      return planCreate(c, plan);
    case 'INSERT':
      return planInsert(c, plan, prefix);
    case 'UPDATE':
      return planUpdate(c, plan, prefix);
    case 'DELETE':
      return planDelete(c, plan, prefix);
    case 'MERGE':
      return planMerge(c, plan, prefix);
    case 'TRUNCATE': {
      c.accept('TABLE');
      const name = c.name();
      if (name) plan.writes.push(tableName(name));
      return { ...plan, kind: 'truncate' };
    }
    case 'COPY':
      return planCopy(c, plan);
    default:
      return plan;
  }
}

function planCreate(c: Cursor, plan: StatementPlan): StatementPlan {
  c.accept('OR', 'REPLACE');
  let temporary = c.accept('TEMP') || c.accept('TEMPORARY');
  c.accept('PERSISTENT');
  let kind: StatementKind;
  if (c.accept('TABLE')) kind = 'create_table';
  else if (c.accept('VIEW') || c.accept('MATERIALIZED', 'VIEW')) kind = 'create_view';
  else return plan;
  c.accept('IF', 'NOT', 'EXISTS');
  const name = c.name();
  if (!name) return plan;
  temporary ||= isTempName(name);
  const target = tableName(temporary && isTempName(name) ? name.slice(name.length - 1) : name);
  plan.writes.push(target);
  if (temporary) plan.temporary.push(target);
  if (c.peek()?.text === '(') {
    const inner = c.peek(1);
    if (kind === 'create_table' && inner && QUERY_START.has(inner.upper) && inner.upper !== '(') {
      // CREATE TABLE t (SELECT …)
      return { ...plan, kind, queries: [query(c, c.slice(c.i, c.tokens.length), c.i, c.tokens.length)] };
    }
    c.skipGroup();
  }
  if (!c.accept('AS')) return { ...plan, kind };
  let end = c.tokens.length;
  // CREATE TABLE … AS SELECT … WITH [NO] DATA
  const tail = c.tokens.slice(-3).map((t) => t.upper);
  if (tail.at(-1) === 'DATA' && (tail.at(-2) === 'WITH' || (tail.at(-2) === 'NO' && tail.at(-3) === 'WITH'))) {
    end -= tail.at(-2) === 'NO' ? 3 : 2;
  }
  return { ...plan, kind, queries: [query(c, c.slice(c.i, end), c.i, end)] };
}

function planInsert(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  if (c.accept('OR')) c.i++; // OR REPLACE | OR IGNORE
  c.accept('INTO');
  const name = c.name();
  if (!name) return plan;
  plan.writes.push(tableName(name));
  if (c.accept('AS')) c.name();
  if (c.peek()?.text === '(') {
    const inner = c.peek(1);
    if (!(inner && ['SELECT', 'WITH', 'FROM', 'VALUES'].includes(inner.upper))) c.skipGroup();
  }
  if (c.accept('BY', 'NAME') || c.accept('BY', 'POSITION')) {
    /* column matching mode */
  }
  if (c.accept('DEFAULT', 'VALUES')) return { ...plan, kind: 'insert' };
  const start = c.i;
  let end = c.tokens.length;
  for (let k = start; k < c.tokens.length; k++) {
    const t = c.tokens[k]!;
    if (t.depth !== c.tokens[0]!.depth || t.kind !== 'word') continue;
    if (t.upper === 'RETURNING' || (t.upper === 'ON' && c.tokens[k + 1]?.upper === 'CONFLICT')) {
      end = k;
      break;
    }
  }
  plan.queries.push(query(c, withPrefix(prefix, c.slice(start, end)), start, end));
  const update = c.findTop(['SET'], end);
  if (update < c.tokens.length) {
    const where = c.findTop(['WHERE', 'RETURNING'], update + 1);
    const whereEnd = c.findTop(['RETURNING'], where + 1);
    const cond = where < c.tokens.length && c.tokens[where]!.upper === 'WHERE' ? ` WHERE ${c.slice(where + 1, whereEnd)}` : '';
    plan.queries.push(query(c, withPrefix(prefix, `SELECT ${c.slice(update + 1, where)}${cond}`), update + 1, c.tokens.length));
  }
  return { ...plan, kind: 'insert' };
}

function planUpdate(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  const name = c.name();
  if (!name) return plan;
  plan.writes.push(tableName(name));
  const set = c.findTop(['SET']);
  const from = c.findTop(['FROM', 'WHERE', 'RETURNING'], set + 1);
  const hasFrom = c.tokens[from]?.upper === 'FROM';
  const where = hasFrom ? c.findTop(['WHERE', 'RETURNING'], from + 1) : from;
  const hasWhere = c.tokens[where]?.upper === 'WHERE';
  const end = hasWhere ? c.findTop(['RETURNING'], where + 1) : where;
  const text =
    `SELECT ${c.slice(set + 1, from)}` +
    (hasFrom ? ` FROM ${c.slice(from + 1, where)}` : '') +
    (hasWhere ? ` WHERE ${c.slice(where + 1, end)}` : '');
  plan.queries.push(query(c, withPrefix(prefix, text), set + 1, c.tokens.length));
  return { ...plan, kind: 'update' };
}

function planDelete(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  c.accept('FROM');
  const name = c.name();
  if (!name) return plan;
  plan.writes.push(tableName(name));
  const using = c.findTop(['USING', 'WHERE', 'RETURNING']);
  const hasUsing = c.tokens[using]?.upper === 'USING';
  const where = hasUsing ? c.findTop(['WHERE', 'RETURNING'], using + 1) : using;
  const hasWhere = c.tokens[where]?.upper === 'WHERE';
  const end = hasWhere ? c.findTop(['RETURNING'], where + 1) : where;
  if (hasUsing || hasWhere) {
    const text =
      'SELECT 1' + (hasUsing ? ` FROM ${c.slice(using + 1, where)}` : '') + (hasWhere ? ` WHERE ${c.slice(where + 1, end)}` : '');
    plan.queries.push(query(c, withPrefix(prefix, text), using, c.tokens.length));
  }
  return { ...plan, kind: 'delete' };
}

function planMerge(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  c.accept('INTO');
  const name = c.name();
  if (!name) return plan;
  plan.writes.push(tableName(name));
  const using = c.findTop(['USING']);
  const on = c.findTop(['ON', 'USING'], using + 1);
  const when = c.findTop(['WHEN'], on + 1);
  const cond = c.tokens[on]?.upper === 'ON' ? ` WHERE ${c.slice(on + 1, when)}` : '';
  plan.queries.push(query(c, withPrefix(prefix, `SELECT 1 FROM ${c.slice(using + 1, on)}${cond}`), using, on));
  for (const sub of subqueries(c, when, c.tokens.length)) plan.queries.push({ text: withPrefix(prefix, sub), fallback: [] });
  return { ...plan, kind: 'merge' };
}

function planCopy(c: Cursor, plan: StatementPlan): StatementPlan {
  if (c.is('FROM') && c.is('DATABASE', 1)) return plan;
  let source: { table?: string; query?: ReadQuery };
  if (c.peek()?.text === '(') {
    const start = c.i + 1;
    c.skipGroup();
    source = { query: query(c, c.slice(start, c.i - 1), start, c.i - 1) };
  } else {
    const name = c.name();
    if (!name) return plan;
    source = { table: tableName(name) };
    if (c.peek()?.text === '(') c.skipGroup();
  }
  const direction = c.peek()?.upper;
  c.i++;
  const file = c.peek();
  const path = file?.kind === 'string' ? file.text.slice(1, -1).replace(/''/g, "'") : undefined;
  if (direction === 'TO') {
    if (path !== undefined) plan.writes.push(canonicalFileName(path));
    if (source.table) plan.reads.push(source.table);
    if (source.query) plan.queries.push(source.query);
  } else if (direction === 'FROM') {
    if (source.table) plan.writes.push(source.table);
    if (path !== undefined) plan.reads.push(canonicalFileName(path));
  }
  return { ...plan, kind: 'copy' };
}

/**
 * The "envelope" of one statement: what it does to datasets (creates, changes, drops or renames
 * a table or file, switches the default schema), and which query texts carry what it reads.
 * DuckDB's `json_serialize_sql` only serialises SELECT statements, so for CREATE … AS, INSERT,
 * UPDATE, DELETE, MERGE, COPY and the rest the targets are read from tokens and the reading
 * parts (the query, the FROM/USING lists, the conditions, subqueries) are re-assembled as
 * SELECTs that DuckDB's own parser then analyses. Names stay unresolved here ({@link DatasetRef}):
 * the analyzer resolves them in body order, where `USE` and temporary tables are known.
 */
import { canonicalTableName } from '../model/names.js';
import { fileRef, isTempQualified, tableRef, type DatasetRef } from './dataset-ref.js';
import { Cursor, SUBQUERY_START, subqueries } from './statement-cursor.js';
import { identText, type SqlStatement } from './tokenizer.js';

export type StatementKind =
  | 'select'
  | 'create_table'
  | 'create_view'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'truncate'
  | 'copy'
  | 'alter'
  | 'drop'
  | 'use'
  | 'transaction'
  | 'other';

/** A SELECT text to analyse, and simpler texts to fall back on if DuckDB cannot parse it. */
export interface ReadQuery {
  text: string;
  fallback: string[];
}

/** What a statement does to a dataset or to the body's name resolution, in statement order. */
export type Effect =
  /** CREATE [OR REPLACE] TABLE|VIEW, COPY … TO: the target is (re)built from what the statement reads. */
  | { type: 'create'; target: DatasetRef; temporary: boolean; view: boolean }
  /** INSERT, UPDATE, DELETE, MERGE, COPY … FROM, ALTER; TRUNCATE `empties` it. */
  | { type: 'modify'; target: DatasetRef; empties?: boolean }
  | { type: 'drop'; target: DatasetRef }
  /** ALTER TABLE|VIEW t RENAME TO u: `to` is the new last part, in t's schema. */
  | { type: 'rename'; target: DatasetRef; to: string }
  /** USE / SET schema / SET search_path: later unqualified names resolve in `schema`; `[]` is the default. */
  | { type: 'use'; schema: string[] }
  /** CREATE MACRO|FUNCTION, DROP MACRO|FUNCTION. */
  | { type: 'macro'; name: string; temporary: boolean; drop: boolean };

export interface StatementPlan {
  kind: StatementKind;
  effects: Effect[];
  /** Datasets read directly by the envelope (`COPY t TO …`, `COMMENT ON t`, `CREATE INDEX … ON t`). */
  reads: DatasetRef[];
  queries: ReadQuery[];
  /** What the statement does that cannot be inferred: each becomes a `SQL_UNTRACKED` warning. */
  untracked: string[];
}

const QUERY_START = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', '(', 'PIVOT', 'UNPIVOT', 'SUMMARIZE', 'DESCRIBE', 'SHOW']);
const TRANSACTION = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT']);
/** Table functions that create tables nobody names in the statement. */
const TABLE_GENERATORS = new Set(['DBGEN', 'DSDGEN']);

function query(c: Cursor, text: string, from: number, to: number): ReadQuery {
  return { text, fallback: subqueries(c, from, to) };
}

/** Prefixes a `WITH …` clause to a re-assembled query so that CTE names resolve as they would in the statement. */
function withPrefix(prefix: string, q: string): string {
  if (prefix === '') return q;
  return /^\s*with\b/i.test(q) ? `${prefix} SELECT * FROM (${q}) AS __duckorch_q` : `${prefix} ${q}`;
}

/** The statement that starts at token `from` (after `EXPLAIN ANALYZE`), as a statement of its own. */
function subStatement(stmt: SqlStatement, text: string, from: number): { stmt: SqlStatement; text: string } {
  const first = stmt.tokens[from]!;
  const at = first.start;
  return {
    stmt: {
      text: stmt.text.slice(at),
      start: stmt.start + at,
      tokens: stmt.tokens.slice(from).map((t) => ({ ...t, start: t.start - at, end: t.end - at })),
    },
    text: text.slice(at),
  };
}

function emptyPlan(): StatementPlan {
  return { kind: 'other', effects: [], reads: [], queries: [], untracked: [] };
}

export function planStatement(stmt: SqlStatement, text: string = stmt.text): StatementPlan {
  const c = new Cursor(stmt.tokens, text);
  const plan = emptyPlan();
  const first = c.peek();
  if (!first) return plan;
  const whole: ReadQuery = { text, fallback: [] };
  if (first.kind === 'punct' && first.text === '(') return { ...plan, kind: 'select', queries: [whole] };
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
    if (!main || QUERY_START.has(main.upper)) return { ...plan, kind: 'select', queries: [query(c, text, 0, c.tokens.length)] };
    prefix = c.slice(0, c.i);
  }

  const head = c.peek()!.upper;
  // A query, including the simplified PIVOT statement, whose IN lists the analyzer makes explicit.
  if (QUERY_START.has(head)) return { ...plan, kind: 'select', queries: [query(c, text, 0, c.tokens.length)] };
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
      if (name) plan.effects.push({ type: 'modify', target: tableRef(name), empties: true });
      return { ...plan, kind: 'truncate' };
    }
    case 'COPY':
      return planCopy(c, plan);
    case 'ALTER':
      return planAlter(c, plan);
    case 'DROP':
      return planDrop(c, plan);
    case 'USE': {
      const name = c.name();
      if (name) plan.effects.push({ type: 'use', schema: name });
      return { ...plan, kind: 'use' };
    }
    case 'SET':
    case 'RESET':
      return planSet(c, plan, head === 'RESET');
    case 'EXPLAIN': {
      // EXPLAIN only plans; EXPLAIN ANALYZE runs the statement.
      let analyze = false;
      if (c.peek()?.text === '(') {
        const open = c.i;
        c.skipGroup();
        analyze = c.tokens.slice(open, c.i).some((t) => t.kind === 'word' && (t.upper === 'ANALYZE' || t.upper === 'ANALYSE'));
      }
      if (c.accept('ANALYZE') || c.accept('ANALYSE')) analyze = true;
      if (!analyze || c.done) return plan;
      const inner = subStatement(stmt, text, c.i);
      const explained = planStatement(inner.stmt, inner.text);
      // The rows are EXPLAIN's report, not the statement's result.
      return { ...explained, kind: explained.kind === 'transaction' ? 'transaction' : 'other' };
    }
    case 'CALL': {
      const fn = c.peek();
      if (fn && TABLE_GENERATORS.has(fn.upper)) {
        plan.untracked.push(`\`CALL ${fn.text}(…)\` creates tables that are not tracked: declare them with \`@outputs\``);
      }
      // CALL f(…) is SELECT * FROM f(…): file readers and dynamic SQL are found the same way.
      plan.queries.push(query(c, `SELECT * FROM ${c.slice(c.i, c.tokens.length)}`, c.i, c.tokens.length));
      return plan;
    }
    case 'COMMENT': {
      // COMMENT ON TABLE|VIEW|COLUMN x: t must exist, so it reads (depends on) the table.
      if (!c.accept('ON')) return plan;
      const what = c.peek()?.upper;
      c.i++;
      const name = c.name();
      if (name && (what === 'TABLE' || what === 'VIEW')) plan.reads.push(tableRef(name));
      if (name && what === 'COLUMN' && name.length >= 2) plan.reads.push(tableRef(name.slice(0, -1)));
      return plan;
    }
    case 'ATTACH':
      plan.untracked.push(
        '`ATTACH` is not tracked: the attached database is not a dataset of the graph, so the tasks that write it are not upstream of this one; declare them with `@depends_on` (or the data with `@inputs`/`@outputs`)',
      );
      return plan;
    case 'DETACH':
      plan.untracked.push(
        '`DETACH` is not tracked: tasks that use the detached database are not ordered around this one; declare `@depends_on` where it matters',
      );
      return plan;
    case 'EXECUTE':
      plan.untracked.push(
        '`EXECUTE` runs a prepared statement whose reads and writes are not tracked: declare them with `@inputs` and `@outputs`',
      );
      return plan;
    case 'IMPORT':
      plan.untracked.push(
        '`IMPORT DATABASE` is not tracked: the tables it creates and the files it reads are not inferred; declare them with `@outputs` and `@inputs`',
      );
      return plan;
    case 'EXPORT':
      plan.untracked.push(
        '`EXPORT DATABASE` is not tracked: the tables it reads and the files it writes are not inferred; declare them with `@inputs` (or `@depends_on`) and `@outputs`',
      );
      return plan;
    default:
      // SET/RESET of other settings, PRAGMA, INSTALL, LOAD, CHECKPOINT, VACUUM, ANALYZE, PREPARE, DEALLOCATE.
      return plan;
  }
}

function planCreate(c: Cursor, plan: StatementPlan): StatementPlan {
  c.accept('OR', 'REPLACE');
  const temp = c.accept('TEMP') || c.accept('TEMPORARY');
  c.accept('PERSISTENT');
  if (c.accept('MACRO') || c.accept('FUNCTION')) {
    c.accept('IF', 'NOT', 'EXISTS');
    const name = c.name();
    if (name) plan.effects.push({ type: 'macro', name: canonicalTableName(name), temporary: temp || isTempQualified(name), drop: false });
    return plan;
  }
  c.accept('UNIQUE');
  if (c.accept('INDEX')) {
    // The index is built from the table's rows: it must run after the table is written.
    c.accept('IF', 'NOT', 'EXISTS');
    if (!c.is('ON')) c.name();
    if (c.accept('ON')) {
      const table = c.name();
      if (table) plan.reads.push(tableRef(table));
    }
    return plan;
  }
  if (c.accept('TYPE')) {
    // CREATE TYPE e AS ENUM (SELECT …) reads its values from the query.
    c.name();
    if (c.accept('AS', 'ENUM') && c.peek()?.text === '(' && SUBQUERY_START.has(c.peek(1)?.upper ?? '')) {
      const start = c.i + 1;
      c.skipGroup();
      plan.queries.push(query(c, c.slice(start, c.i - 1), start, c.i - 1));
    }
    return plan;
  }
  let kind: StatementKind;
  if (c.accept('TABLE')) kind = 'create_table';
  else if (c.accept('VIEW') || c.accept('MATERIALIZED', 'VIEW')) kind = 'create_view';
  else return plan; // SCHEMA, SEQUENCE, SECRET
  c.accept('IF', 'NOT', 'EXISTS');
  const name = c.name();
  if (!name) return plan;
  const temporary = temp || isTempQualified(name);
  plan.effects.push({
    type: 'create',
    target: tableRef(temporary ? name.slice(name.length - 1) : name),
    temporary,
    view: kind === 'create_view',
  });
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

/** `(a, b, "c")`: a column list rather than a parenthesised query such as `(TABLE s)` or `((SELECT …))`. */
function isColumnList(c: Cursor): boolean {
  const open = c.peek();
  if (open?.text !== '(') return false;
  let expectName = true;
  for (let k = c.i + 1; k < c.tokens.length; k++) {
    const t = c.tokens[k]!;
    if (t.text === ')' && t.depth === open.depth) return !expectName;
    if (expectName ? t.kind !== 'word' && t.kind !== 'qident' : t.text !== ',') return false;
    expectName = !expectName;
  }
  return false;
}

function planInsert(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  if (c.accept('OR')) c.i++; // OR REPLACE | OR IGNORE
  c.accept('INTO');
  const name = c.name();
  if (!name) return plan;
  plan.effects.push({ type: 'modify', target: tableRef(name) });
  if (c.accept('AS')) c.name();
  if (isColumnList(c)) c.skipGroup();
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
  const set = c.findTop(['SET']);
  // UPDATE EXTENSIONS [(name, …)] updates installed extensions, not a table.
  if (c.is('EXTENSIONS') && set === c.tokens.length) return plan;
  const name = c.name();
  if (!name) return plan;
  plan.effects.push({ type: 'modify', target: tableRef(name) });
  const from = c.findTop(['FROM', 'WHERE', 'RETURNING'], set + 1);
  const hasFrom = c.tokens[from]?.upper === 'FROM';
  const where = hasFrom ? c.findTop(['WHERE', 'RETURNING'], from + 1) : from;
  const hasWhere = c.tokens[where]?.upper === 'WHERE';
  const end = hasWhere ? c.findTop(['RETURNING'], where + 1) : where;
  const text =
    `SELECT ${c.slice(set + 1, from)}` +
    (hasFrom ? ` FROM ${c.slice(from + 1, where)}` : '') +
    (hasWhere ? ` WHERE ${c.slice(where + 1, end)}` : '');
  plan.queries.push(query(c, withPrefix(prefix, text), set + 1, end));
  return { ...plan, kind: 'update' };
}

function planDelete(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  c.accept('FROM');
  const name = c.name();
  if (!name) return plan;
  plan.effects.push({ type: 'modify', target: tableRef(name) });
  const using = c.findTop(['USING', 'WHERE', 'RETURNING']);
  const hasUsing = c.tokens[using]?.upper === 'USING';
  const where = hasUsing ? c.findTop(['WHERE', 'RETURNING'], using + 1) : using;
  const hasWhere = c.tokens[where]?.upper === 'WHERE';
  const end = hasWhere ? c.findTop(['RETURNING'], where + 1) : where;
  if (hasUsing || hasWhere) {
    const text =
      'SELECT 1' + (hasUsing ? ` FROM ${c.slice(using + 1, where)}` : '') + (hasWhere ? ` WHERE ${c.slice(where + 1, end)}` : '');
    plan.queries.push(query(c, withPrefix(prefix, text), using, end));
  }
  return { ...plan, kind: 'delete' };
}

function planMerge(c: Cursor, plan: StatementPlan, prefix: string): StatementPlan {
  c.accept('INTO');
  const name = c.name();
  if (!name) return plan;
  plan.effects.push({ type: 'modify', target: tableRef(name) });
  const using = c.findTop(['USING']);
  const on = c.findTop(['ON', 'USING'], using + 1);
  const when = c.findTop(['WHEN'], on + 1);
  const cond = c.tokens[on]?.upper === 'ON' ? ` WHERE ${c.slice(on + 1, when)}` : '';
  plan.queries.push(query(c, withPrefix(prefix, `SELECT 1 FROM ${c.slice(using + 1, on)}${cond}`), using, on));
  for (const sub of subqueries(c, when, c.tokens.length)) plan.queries.push({ text: withPrefix(prefix, sub), fallback: [] });
  return { ...plan, kind: 'merge' };
}

function planCopy(c: Cursor, plan: StatementPlan): StatementPlan {
  if (c.is('FROM') && c.is('DATABASE', 1)) {
    plan.untracked.push(
      '`COPY FROM DATABASE` is not tracked: the tables it reads and writes are not inferred; declare them with `@inputs` and `@outputs`',
    );
    return plan;
  }
  let source: { table?: DatasetRef; query?: ReadQuery };
  if (c.peek()?.text === '(') {
    const start = c.i + 1;
    c.skipGroup();
    source = { query: query(c, c.slice(start, c.i - 1), start, c.i - 1) };
  } else {
    const name = c.name();
    if (!name) return plan;
    source = { table: tableRef(name) };
    if (c.peek()?.text === '(') c.skipGroup();
  }
  const direction = c.peek()?.upper;
  c.i++;
  const file = c.peek();
  const path = file?.kind === 'string' ? file.text.slice(1, -1).replace(/''/g, "'") : undefined;
  if (direction === 'TO') {
    if (path !== undefined) plan.effects.push({ type: 'create', target: fileRef(path), temporary: false, view: false });
    else plan.untracked.push('`COPY … TO` a path that is not a string literal is not tracked: declare the file it writes with `@outputs`');
    if (source.table) plan.reads.push(source.table);
    if (source.query) plan.queries.push(source.query);
  } else if (direction === 'FROM') {
    if (source.table) plan.effects.push({ type: 'modify', target: source.table });
    if (path !== undefined) plan.reads.push(fileRef(path));
    else plan.untracked.push('`COPY … FROM` a path that is not a string literal is not tracked: declare the file it reads with `@inputs`');
  }
  return { ...plan, kind: 'copy' };
}

function planAlter(c: Cursor, plan: StatementPlan): StatementPlan {
  // ALTER SEQUENCE, ALTER SCHEMA, ALTER DATABASE change no dataset.
  if (!c.accept('TABLE') && !c.accept('VIEW')) return plan;
  c.accept('IF', 'EXISTS');
  const name = c.name();
  if (!name) return plan;
  const target = tableRef(name);
  if (c.accept('RENAME', 'TO')) {
    const to = c.name();
    if (to) plan.effects.push({ type: 'rename', target, to: to[to.length - 1]! });
  } else {
    plan.effects.push({ type: 'modify', target });
  }
  return { ...plan, kind: 'alter' };
}

function planDrop(c: Cursor, plan: StatementPlan): StatementPlan {
  let what: 'table' | 'macro' | 'schema';
  if (c.accept('TABLE') || c.accept('VIEW')) what = 'table';
  else if (c.accept('MACRO') || c.accept('FUNCTION')) {
    c.accept('TABLE');
    what = 'macro';
  } else if (c.accept('SCHEMA')) what = 'schema';
  else return plan; // INDEX, SEQUENCE, TYPE, SECRET
  c.accept('IF', 'EXISTS');
  const names: string[][] = [];
  for (let name = c.name(); name; name = c.name()) {
    names.push(name);
    if (c.peek()?.text !== ',') break;
    c.i++;
  }
  for (const name of names) {
    if (what === 'table') plan.effects.push({ type: 'drop', target: tableRef(name) });
    else if (what === 'macro')
      plan.effects.push({ type: 'macro', name: canonicalTableName(name), temporary: isTempQualified(name), drop: true });
  }
  if (what === 'schema' && c.is('CASCADE')) {
    plan.untracked.push(
      '`DROP SCHEMA … CASCADE` drops every table and view of the schema, which is not tracked: declare the ones it drops with `@outputs`',
    );
  }
  return { ...plan, kind: 'drop' };
}

/** `SET [SESSION] schema|search_path = …`, `RESET schema|search_path`, `SET VARIABLE x = (query)`. */
function planSet(c: Cursor, plan: StatementPlan, reset: boolean): StatementPlan {
  if (!c.accept('SESSION') && !c.accept('LOCAL')) c.accept('GLOBAL');
  if (!reset && c.accept('VARIABLE')) {
    c.name();
    if (c.peek()?.text === '=' || c.is('TO')) c.i++;
    // The value is computed now, possibly from a query: what that query reads is read here.
    plan.queries.push(query(c, `SELECT ${c.slice(c.i, c.tokens.length)}`, c.i, c.tokens.length));
    return plan;
  }
  const setting = c.peek();
  if (!setting || (setting.kind !== 'word' && setting.kind !== 'qident')) return plan;
  const name = identText(setting).toLowerCase();
  if (name !== 'schema' && name !== 'search_path') return plan;
  c.i++;
  if (reset) {
    plan.effects.push({ type: 'use', schema: [] });
    return { ...plan, kind: 'use' };
  }
  if (c.peek()?.text === '=' || c.is('TO')) c.i++;
  const value = c.peek();
  if (!value) return plan;
  const entries =
    value.kind === 'string'
      ? searchPathEntries(value.text.slice(1, -1).replace(/''/g, "'"))
      : value.kind === 'word' || value.kind === 'qident'
        ? [[identText(value)]]
        : undefined;
  if (entries === undefined) {
    plan.untracked.push(
      `\`SET ${setting.text}\` to a value that is not a schema name is not tracked: qualify the names that follow, or declare them with \`@inputs\`/\`@outputs\``,
    );
    return plan;
  }
  plan.effects.push({ type: 'use', schema: entries[0] ?? [] });
  if (entries.length > 1) {
    const [firstEntry, ...rest] = entries.map((e) => canonicalTableName(e));
    plan.untracked.push(
      `\`SET ${setting.text}\` lists several schemas: unqualified names are taken to be in ${firstEntry}, but DuckDB also looks for them in ${rest.join(', ')}; qualify them, or declare them with \`@inputs\``,
    );
  }
  return { ...plan, kind: 'use' };
}

/**
 * The entries of a search path as DuckDB reads them: `'a,"My Schema",cat.sch'` →
 * `[['a'], ['My Schema'], ['cat', 'sch']]`. Unquoted parts keep their spaces and case; an empty
 * value is the default (`[]`); `undefined` when DuckDB would not accept it.
 */
function searchPathEntries(value: string): string[][] | undefined {
  if (value === '') return [];
  const entries: string[][] = [];
  let parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (quoted) {
      if (ch !== '"') current += ch;
      else if (value[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '.' || ch === ',') {
      if (current === '') return undefined;
      parts.push(current);
      current = '';
      if (ch === ',') {
        entries.push(parts);
        parts = [];
      }
    } else current += ch;
  }
  if (quoted || current === '') return undefined;
  parts.push(current);
  entries.push(parts);
  return entries.every((e) => e.length <= 2) ? entries : undefined;
}

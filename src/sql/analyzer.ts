/**
 * Infers what a task body reads and writes, grounded in DuckDB's parser. Bodies are split
 * into statements, each statement's envelope is planned from tokens, and every statement and
 * re-assembled query is sent to `json_serialize_sql` in one batch: parse errors come back
 * with DuckDB's own message and position, SELECTs come back as an AST to walk.
 */
import { DatasetSet } from '../model/names.js';
import { collectReads, type Json } from './ast-refs.js';
import { planStatement, type StatementPlan } from './statement-plan.js';
import { SqlLexError, splitStatements, tokenize, type SqlStatement } from './tokenizer.js';

/** Parses SQL texts with DuckDB; returns the `json_serialize_sql` JSON for each, in order. */
export interface SqlParser {
  serialize(texts: readonly string[]): Promise<string[]>;
}

export interface SqlIssue {
  code: 'SQL_SYNTAX' | 'SQL_UNSUPPORTED';
  message: string;
  /** 0-based offset into the body. */
  offset: number;
}

export interface BodyAnalysis {
  statementCount: number;
  reads: string[];
  writes: string[];
  errors: SqlIssue[];
  /** Statements whose effect on the graph is not tracked. */
  warnings: SqlIssue[];
}

interface SerializeResult {
  error?: boolean;
  error_type?: string;
  error_message?: string;
  position?: string;
  statements?: Json;
}

const NOT_SELECT = 'Only SELECT statements can be serialized to json!';

/** Replaces `{{ x }}` / `${x}` with a same-length NULL so the text parses and offsets still match. */
export function maskPlaceholders(body: string): string {
  let out = '';
  let last = 0;
  for (const t of tokenize(body)) {
    if (t.kind !== 'placeholder') continue;
    out += body.slice(last, t.start) + 'NULL'.padEnd(t.end - t.start, ' ');
    last = t.end;
  }
  return out + body.slice(last);
}

interface Pending {
  body: number;
  plan: StatementPlan;
  stmt: SqlStatement;
  fullIndex: number;
  queryIndexes: number[];
}

export class SqlAnalyzer {
  constructor(private readonly parser: SqlParser) {}

  async analyse(body: string): Promise<BodyAnalysis> {
    return (await this.analyseMany([body]))[0]!;
  }

  /** Analyses many bodies with one round trip to DuckDB (plus one for rare fallbacks). */
  async analyseMany(bodies: readonly string[]): Promise<BodyAnalysis[]> {
    const results: BodyAnalysis[] = bodies.map(() => ({ statementCount: 0, reads: [], writes: [], errors: [], warnings: [] }));
    const texts: string[] = [];
    const pending: Pending[] = [];
    bodies.forEach((body, b) => {
      let statements: SqlStatement[];
      let masked: string;
      try {
        masked = maskPlaceholders(body);
        statements = splitStatements(body);
      } catch (err) {
        if (!(err instanceof SqlLexError)) throw err;
        results[b]!.errors.push({ code: 'SQL_SYNTAX', message: err.message, offset: err.offset });
        return;
      }
      results[b]!.statementCount = statements.length;
      for (const stmt of statements) {
        const text = masked.slice(stmt.start, stmt.start + stmt.text.length);
        const plan = planStatement(stmt, text);
        const fullIndex = texts.push(text) - 1;
        const queryIndexes = plan.kind === 'select' ? [] : plan.queries.map((q) => texts.push(q.text) - 1);
        pending.push({ body: b, plan, stmt, fullIndex, queryIndexes });
      }
    });

    const parsed = texts.length > 0 ? (await this.parser.serialize(texts)).map((j) => JSON.parse(j) as SerializeResult) : [];
    const fallbackTexts: string[] = [];
    const fallbackBodies: number[] = [];
    const reads = bodies.map(() => new DatasetSet());
    const writes = bodies.map(() => new DatasetSet());
    const temporary = bodies.map(() => new DatasetSet());

    for (const p of pending) {
      const result = results[p.body]!;
      const full = parsed[p.fullIndex]!;
      if (full.error) {
        if (full.error_type === 'parser') {
          result.errors.push({
            code: 'SQL_SYNTAX',
            message: full.error_message ?? 'syntax error',
            offset: p.stmt.start + Number(full.position ?? 0),
          });
          continue;
        }
        if (full.error_message !== NOT_SELECT) {
          result.errors.push({ code: 'SQL_UNSUPPORTED', message: full.error_message ?? 'statement not supported', offset: p.stmt.start });
          continue;
        }
      }
      if (p.plan.kind === 'transaction') {
        result.errors.push({
          code: 'SQL_UNSUPPORTED',
          message: `\`${p.stmt.tokens[0]!.text}\` is not allowed in a task: duck-orch runs each task in its own transaction`,
          offset: p.stmt.start,
        });
        continue;
      }
      for (const w of p.plan.writes) writes[p.body]!.add(w);
      for (const t of p.plan.temporary) temporary[p.body]!.add(t);
      for (const r of p.plan.reads) reads[p.body]!.add(r);
      if (p.plan.kind === 'select') {
        if (!full.error && full.statements) for (const r of collectReads(full.statements)) reads[p.body]!.add(r);
        else if (p.plan.queries[0]) {
          // Not serialisable as written (PIVOT …): the plan wrapped it in a subquery.
          fallbackTexts.push(p.plan.queries[0].text);
          fallbackBodies.push(p.body);
        }
        continue;
      }
      p.queryIndexes.forEach((qi, k) => {
        const q = parsed[qi]!;
        if (!q.error && q.statements) {
          for (const r of collectReads(q.statements)) reads[p.body]!.add(r);
          return;
        }
        for (const sub of p.plan.queries[k]!.fallback) {
          fallbackTexts.push(sub);
          fallbackBodies.push(p.body);
        }
      });
    }

    if (fallbackTexts.length > 0) {
      const second = (await this.parser.serialize(fallbackTexts)).map((j) => JSON.parse(j) as SerializeResult);
      second.forEach((r, k) => {
        if (!r.error && r.statements) for (const name of collectReads(r.statements)) reads[fallbackBodies[k]!]!.add(name);
      });
    }

    results.forEach((result, b) => {
      const tmp = temporary[b]!;
      const written = writes[b]!;
      result.writes = [...written].filter((w) => !tmp.has(w)).sort();
      // What a task writes itself (or keeps in a temporary table) is not an input of it.
      result.reads = [...reads[b]!].filter((r) => !written.has(r) && !tmp.has(r)).sort();
    });
    return results;
  }
}

/**
 * Infers what a task body reads and writes, grounded in DuckDB's parser. Bodies are split
 * into statements, each statement's envelope is planned from tokens, and every statement and
 * re-assembled query is sent to `json_serialize_sql` in one batch: parse errors come back
 * with DuckDB's own message and position, SELECTs come back as an AST to walk.
 */
import { collectRefs, type Json } from './ast-refs.js';
import { BodyScope, type LineageEdge } from './body-scope.js';
import type { DatasetRef } from './dataset-ref.js';
import { explicitPivots } from './pivot.js';
import { planStatement, type StatementPlan } from './statement-plan.js';
import { SqlLexError, splitStatements, tokenize, type SqlStatement } from './tokenizer.js';

export type { LineageEdge } from './body-scope.js';

/** Parses SQL texts with DuckDB; returns the `json_serialize_sql` JSON for each, in order. */
export interface SqlParser {
  serialize(texts: readonly string[]): Promise<string[]>;
}

export interface SqlIssue {
  /** SQL_SYNTAX and SQL_UNSUPPORTED are errors; SQL_UNTRACKED is a warning. */
  code: 'SQL_SYNTAX' | 'SQL_UNSUPPORTED' | 'SQL_UNTRACKED';
  message: string;
  /** 0-based offset into the body (for warnings, of the statement's first token). */
  offset: number;
}

export interface BodyAnalysis {
  statementCount: number;
  /** Datasets the task reads and does not write itself. */
  reads: string[];
  /** Datasets the task writes (creates, changes, drops or renames); temporary tables are not. */
  writes: string[];
  /** Per statement, what it reads → what it writes, through temporary tables; deduplicated. */
  lineage: LineageEdge[];
  errors: SqlIssue[];
  /** What the body does that cannot be inferred, and what to declare instead. */
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

/** DuckDB's words for statements it parses but does not run, made actionable. */
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^Can only drop one object at a time/, 'DuckDB drops one object per statement: write one `DROP` statement for each table or view'],
  [
    /^T_AlterObjectSchemaStmt$/,
    'DuckDB does not support `ALTER … SET SCHEMA`: create the table in the other schema (`CREATE TABLE s.t AS FROM t`) and drop the old one',
  ],
];

function unsupportedMessage(message: string | undefined): string {
  if (message === undefined) return 'statement not supported';
  return UNSUPPORTED.find(([re]) => re.test(message))?.[1] ?? message;
}

interface Pending {
  body: number;
  plan: StatementPlan;
  stmt: SqlStatement;
  fullIndex: number;
  /** For each of the plan's queries, the index of its text (with explicit PIVOT values) in the batch. */
  queryIndexes: number[];
  /** What its queries read, as DuckDB's parser found them. */
  reads: DatasetRef[];
  untracked: string[];
  /** A statement with an error contributes nothing. */
  failed: boolean;
}

export class SqlAnalyzer {
  constructor(private readonly parser: SqlParser) {}

  async analyse(body: string): Promise<BodyAnalysis> {
    return (await this.analyseMany([body]))[0]!;
  }

  /** Analyses many bodies with one round trip to DuckDB (plus one for rare fallbacks). */
  async analyseMany(bodies: readonly string[]): Promise<BodyAnalysis[]> {
    const results: BodyAnalysis[] = bodies.map(() => ({
      statementCount: 0,
      reads: [],
      writes: [],
      lineage: [],
      errors: [],
      warnings: [],
    }));
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
        const queryIndexes = plan.queries.map((q) => {
          const query = explicitPivots(q.text);
          return query === text ? fullIndex : texts.push(query) - 1;
        });
        pending.push({ body: b, plan, stmt, fullIndex, queryIndexes, reads: [], untracked: [...plan.untracked], failed: false });
      }
    });

    const parsed = texts.length > 0 ? (await this.parser.serialize(texts)).map((j) => JSON.parse(j) as SerializeResult) : [];
    const fallbackTexts: string[] = [];
    const fallbackOwners: Pending[] = [];
    const collect = (p: Pending, statements: Json) => {
      const refs = collectRefs(statements);
      p.reads.push(...refs.reads);
      p.untracked.push(...refs.untracked);
    };

    for (const p of pending) {
      const result = results[p.body]!;
      const full = parsed[p.fullIndex]!;
      p.failed = true;
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
          result.errors.push({ code: 'SQL_UNSUPPORTED', message: unsupportedMessage(full.error_message), offset: p.stmt.start });
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
      p.failed = false;
      p.queryIndexes.forEach((qi, k) => {
        const q = parsed[qi]!;
        if (!q.error && q.statements) {
          collect(p, q.statements);
          return;
        }
        // Not analysable as a whole: read what its parenthesised subqueries read, and say so.
        for (const sub of p.plan.queries[k]!.fallback) {
          fallbackTexts.push(sub);
          fallbackOwners.push(p);
        }
        p.untracked.push(
          `what this statement reads could not all be inferred (DuckDB's parser cannot serialise its query: ${q.error_message ?? 'unknown error'}); only its subqueries were analysed: declare any missing input with \`@inputs\``,
        );
      });
    }

    if (fallbackTexts.length > 0) {
      const second = (await this.parser.serialize(fallbackTexts)).map((j) => JSON.parse(j) as SerializeResult);
      second.forEach((r, k) => {
        if (!r.error && r.statements) collect(fallbackOwners[k]!, r.statements);
      });
    }

    // Replay each body in order: USE, temporary tables and lineage depend on what came before.
    const scopes = bodies.map(() => new BodyScope());
    for (const p of pending) {
      if (p.failed) continue;
      const untracked = [...p.untracked, ...scopes[p.body]!.apply(p.plan, p.reads)];
      for (const message of new Set(untracked)) {
        results[p.body]!.warnings.push({ code: 'SQL_UNTRACKED', message, offset: p.stmt.start });
      }
    }
    results.forEach((result, b) => Object.assign(result, scopes[b]!.result()));
    return results;
  }
}

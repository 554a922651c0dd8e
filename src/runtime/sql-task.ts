/**
 * One attempt of one SQL task: its own connection and transaction, statements run one by one
 * (so errors point at the statement), `@test` assertions checked before commit (so data that
 * fails them never lands), the `@incremental_by` watermark read, and, for the embedded store,
 * the task's outcome written inside the same transaction. `@timeout` interrupts the query.
 */
import type { DuckDBConnection, DuckDBInstance, DuckDBMaterializedResult } from '@duckdb/node-api';
import type { SourceLocation } from '../errors.js';
import { bodyLocation } from '../model/taskfile/build-task.js';
import type { TaskDefinition, TaskTest } from '../model/taskfile/task.js';
import { BodyScope } from '../sql/body-scope.js';
import { planStatement, type StatementPlan } from '../sql/statement-plan.js';
import {
  intervalParameters,
  renderTemplate,
  templateOffset,
  variablesUsed,
  type TemplateValues,
  type TemplateVariable,
} from '../sql/template.js';
import { splitStatements, type SqlStatement } from '../sql/tokenizer.js';
import type { DataTransaction } from '../store/ledger.js';
import { AttemptFailure } from './attempt-failure.js';
import { charOffset, oneLine, parseDuckdbError } from './duckdb-error.js';
import type { CheckResultRecord } from '../store/ledger.js';
import { failedErrorChecks, runChecks, type CheckContext } from './checks.js';
import { bindParameters, type Parameters } from './partition-parameters.js';
import { checkTestQuery } from './test-query.js';
import { readWatermark } from './watermark.js';
import { endSession, openSession, type Session } from './sessions.js';

export { AttemptFailure, type AttemptFailureKind } from './attempt-failure.js';

/** A variable's value, or how to work it out inside the attempt's transaction when a statement first needs it. */
export type VariableValue = string | ((conn: DuckDBConnection) => Promise<string>);

export interface AttemptSuccess {
  rows: number;
  watermark: string | null;
}

export interface AttemptOptions {
  instance: DuckDBInstance;
  task: TaskDefinition;
  statements: readonly PreparedStatement[];
  variables: Readonly<Record<TemplateVariable, VariableValue>>;
  timeoutMs: number | null;
  /** Values bound to the statements' `$name` parameters (a partition's key and dimensions). */
  parameters?: Parameters;
  /** Runs the task's `@check`s before the commit, and hands their results over (also when they fail the attempt). */
  checks?: CheckContext & { onResults: (results: CheckResultRecord[]) => void };
  /** Aborting interrupts the running query; the attempt fails as `cancelled`. */
  signal?: AbortSignal;
  /**
   * Commits the open transaction once the body and tests succeeded, recording the outcome in
   * the same transaction when the store can. Without it the attempt commits by itself.
   */
  commit?: (result: AttemptSuccess, tx: DataTransaction) => Promise<void>;
}

const COUNTING = new Set([2, 3, 5, 7, 11, 30]); // INSERT, UPDATE, DELETE, CREATE, COPY, MERGE_INTO

function rowsAffected(result: DuckDBMaterializedResult): number {
  if (!COUNTING.has(result.statementType) || result.columnCount !== 1 || result.columnName(0) !== 'Count' || result.chunkCount === 0)
    return 0;
  // The result is materialised: reading its first chunk is synchronous, no round trip.
  return Number(result.getChunk(0).getColumnValues(0)[0] ?? 0);
}

export interface PreparedStatement extends SqlStatement {
  /** A query whose rows nobody reads: streamed and drained rather than materialised. */
  isQuery: boolean;
  /** Its changed rows count towards the task's `rows`: it writes something other than a temporary table. */
  countsRows: boolean;
  /** The `{{ }}` variables it uses, rendered just before it runs. */
  variables: TemplateVariable[];
  /** It may change the connection for later statements (see `leavesSessionState`): its connection is not kept. */
  leavesSessionState: boolean;
}

/** Persistent objects besides tables and views: what a CREATE the planner calls `other` may make and still leave the connection as it was. */
const PERSISTENT_CREATE = /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?:SCHEMA|INDEX|SEQUENCE|TYPE)\b/i;

/**
 * Whether a statement may leave something on its connection that a later attempt would see: a
 * temporary table, view or macro, a setting (SET, USE, PRAGMA), an attached database, a
 * transaction of its own, or anything the planner does not know (`other`). Conservative: only
 * reading and writing persistent objects is known to leave nothing.
 */
function leavesSessionState(plan: StatementPlan, text: string): boolean {
  if (plan.effects.some((e) => (e.type === 'create' || e.type === 'macro') && e.temporary)) return true;
  switch (plan.kind) {
    case 'use':
    case 'transaction':
      return true;
    case 'other':
      return !PERSISTENT_CREATE.test(text) || /\bTEMP(?:ORARY)?\b/i.test(text.slice(0, 40));
    default:
      return false;
  }
}

/** Definitions are immutable (a snapshot's), so a task's statements are split and planned once per process. */
const prepared = new WeakMap<TaskDefinition, PreparedStatement[]>();

export function prepareStatements(task: TaskDefinition): PreparedStatement[] {
  let statements = prepared.get(task);
  if (!statements) prepared.set(task, (statements = planStatements(task)));
  return statements;
}

function planStatements(task: TaskDefinition): PreparedStatement[] {
  // Replayed in order, so that a later INSERT into a temporary table is known to be one.
  const scope = new BodyScope();
  const interval = task.automation?.intervalUnit != null;
  return splitStatements(task.sql).map((s) => {
    const plan = planStatement(s);
    const countsRows = scope.changesPersistent(plan);
    scope.apply(plan, []);
    // An interval task's `${interval_start}`… are its parameters `$interval_start`…
    const text = interval ? intervalParameters(s.text) : s.text;
    return {
      ...s,
      text,
      isQuery: plan.kind === 'select',
      countsRows,
      variables: variablesUsed(s.text),
      leavesSessionState: leavesSessionState(plan, s.text),
    };
  });
}

/** Runs a bare query to completion (so its errors surface) while holding one chunk at a time. */
async function drain(conn: DuckDBConnection, sql: string): Promise<void> {
  const result = await conn.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    /* discard */
  }
}

async function runPrepared(session: Session, sql: string, isQuery: boolean, parameters: Parameters, task: TaskDefinition): Promise<number> {
  const prepared = await session.prepare(sql);
  let failed = true;
  try {
    bindParameters(prepared, parameters, task);
    let changed = 0;
    if (!isQuery) changed = rowsAffected(await prepared.run());
    else {
      const result = await prepared.stream();
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        /* discard */
      }
    }
    failed = false;
    return changed;
  } finally {
    session.done(sql, prepared, failed);
  }
}

function isConflict(message: string): boolean {
  return /TransactionContext Error.*conflict/i.test(message) || /write-write conflict/i.test(message);
}

/** The statement running, and once sent, exactly what went with it: DuckDB's error positions are offsets into that. */
interface Running {
  stmt: SqlStatement;
  sent?: { prefix: string; sql: string };
}

/** JSON errors carry DuckDB's exact position of the error (see duckdb-error.ts); BEGIN travels with the first statement. */
const JSON_ERRORS = 'SET errors_as_json = true;\n';
const BEGIN = 'BEGIN TRANSACTION;\n';

export async function runSqlAttempt(options: AttemptOptions): Promise<AttemptSuccess> {
  const { task, statements } = options;
  const session = await openSession(options.instance);
  const conn: DuckDBConnection = session.connection;
  let succeeded = false;
  let timedOut = false;
  // DuckDB forgets an interrupt that reaches a connection between two queries, so once the
  // attempt must stop it keeps interrupting until the attempt has ended.
  let stopping: NodeJS.Timeout | undefined;
  const stop = () => {
    conn.interrupt();
    stopping ??= setInterval(() => conn.interrupt(), 50);
  };
  const timer =
    options.timeoutMs === null
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          stop();
        }, options.timeoutMs);
  options.signal?.addEventListener('abort', stop);
  let current: Running | undefined;
  const values: Partial<Record<TemplateVariable, string>> = {};
  try {
    if (options.signal?.aborted) throw new AttemptFailure('cancelled', 'cancelled before it started', {});
    let rows = 0;
    let begin = session.jsonErrors ? BEGIN : JSON_ERRORS + BEGIN;
    session.jsonErrors = true;
    for (const stmt of statements) {
      current = { stmt };
      if (options.signal?.aborted || timedOut) throw new Error('interrupted between statements');
      if (stmt.variables.length > 0 && begin !== '') {
        // A lazily worked-out value reads the database inside the transaction.
        await conn.run(begin);
        begin = '';
      }
      for (const name of stmt.variables) {
        const v = options.variables[name];
        values[name] ??= typeof v === 'string' ? v : await v(conn);
      }
      const sql = renderTemplate(stmt.text, values);
      if (options.parameters && sql.includes('$')) {
        // A prepared statement is one statement: BEGIN goes first, on its own.
        if (begin !== '') await conn.run(begin);
        begin = '';
        current.sent = { prefix: '', sql };
        const changed = await runPrepared(session, sql, stmt.isQuery, options.parameters, task);
        if (stmt.countsRows) rows += changed;
        continue;
      }
      if (stmt.isQuery) {
        if (begin !== '') await conn.run(begin);
        current.sent = { prefix: '', sql };
        await drain(conn, sql);
      } else {
        // BEGIN travels with the first statement: one round trip fewer per task.
        current.sent = { prefix: begin, sql };
        const changed = rowsAffected(await conn.run(begin + sql));
        if (stmt.countsRows) rows += changed;
      }
      begin = '';
    }
    current = undefined;
    if (begin !== '') await conn.run(begin);
    for (const test of task.tests) await runTest(conn, task, test);
    if (options.checks && task.checks.length > 0) {
      const results = await runChecks(conn, task, options.checks);
      options.checks.onResults(results);
      const failed = failedErrorChecks(results);
      if (failed)
        throw new AttemptFailure('check', `${failed}; the task's changes were rolled back`, {
          checks: results.filter((r) => !r.passed).map((r) => r.check),
        });
    }
    if (options.signal?.aborted || timedOut) throw new Error('interrupted before commit');
    const watermark = await readWatermark(conn, task);
    const success = { rows, watermark };
    if (options.commit) await options.commit(success, { connection: conn });
    else await conn.run('COMMIT');
    succeeded = true;
    return success;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    if (options.signal?.aborted && !(err instanceof AttemptFailure)) {
      throw new AttemptFailure('cancelled', "cancelled: the run was interrupted and the task's changes were rolled back", {});
    }
    throw toFailure(err, task, current, values, timedOut, options.timeoutMs);
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (timer) clearTimeout(timer);
    if (stopping) clearInterval(stopping);
    // Kept only as a new connection would be: nothing interrupted, nothing left on it.
    endSession(options.instance, session, succeeded && !stopping && !statements.some((s) => s.leavesSessionState));
  }
}

async function runTest(conn: DuckDBConnection, task: TaskDefinition, test: TaskTest): Promise<void> {
  let outcome;
  try {
    outcome = await checkTestQuery(conn, test.sql, test.assertion);
  } catch (err) {
    throw new AttemptFailure(
      'test',
      `@test ${test.index} (${task.file}:${test.line}) could not run: ${oneLine(parseDuckdbError(err instanceof Error ? err.message : String(err)).text)}`,
      {
        test: test.index,
        query: test.sql,
      },
    );
  }
  if (!outcome.passed) {
    throw new AttemptFailure(
      'test',
      `@test ${test.index} failed (${task.file}:${test.line}): ${outcome.message}; the task's changes were rolled back`,
      {
        test: test.index,
        query: test.sql,
        assertion: test.assertionText,
        actual: outcome.actual,
      },
    );
  }
}

/**
 * Where in the task file an error happened: DuckDB's position in the text it ran, taken back
 * through the `{{ }}` substitutions to the statement as written, and from there to the file.
 * Without a position (a timeout, an error while committing), where the statement starts.
 */
function errorLocation(task: TaskDefinition, running: Running, values: TemplateValues, position: number | undefined): SourceLocation {
  let offset = 0;
  if (position !== undefined && running.sent) {
    const { prefix, sql } = running.sent;
    const rendered = charOffset(prefix + sql, position) - prefix.length;
    if (rendered >= 0 && rendered <= sql.length) offset = templateOffset(running.stmt.text, rendered, values);
  }
  return bodyLocation(task.file, task.sql, task.bodyLine, task.bodyCol, running.stmt.start + offset);
}

function toFailure(
  err: unknown,
  task: TaskDefinition,
  running: Running | undefined,
  values: TemplateValues,
  timedOut: boolean,
  timeoutMs: number | null,
): AttemptFailure {
  if (err instanceof AttemptFailure) return err;
  const { text, position } = parseDuckdbError(err instanceof Error ? err.message : String(err));
  const location = running ? errorLocation(task, running, values, position) : undefined;
  const where = location ? `${location.file}:${location.line}:${location.col}: ` : '';
  const context: Record<string, unknown> = {
    duckdb_error: text,
    ...(location ? { file: location.file, line: location.line, col: location.col } : {}),
  };
  if (timedOut) {
    return new AttemptFailure(
      'timeout',
      `${where}timed out after ${(timeoutMs ?? 0) / 1000}s (@timeout); the query was interrupted and its changes rolled back`,
      context,
    );
  }
  if (isConflict(text)) return new AttemptFailure('conflict', `${where}${oneLine(text)}`, context);
  if (/Ambiguous reference to catalog or schema/i.test(text)) {
    // The project database is named like a schema the task uses (see `register`'s warning).
    return new AttemptFailure(
      'sql',
      `${where}${oneLine(text)} (the database file has the name of a schema the task uses: rename one of them)`,
      context,
    );
  }
  return new AttemptFailure('sql', `${where}${oneLine(text)}`, context);
}

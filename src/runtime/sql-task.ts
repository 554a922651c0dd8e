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
import { planStatement } from '../sql/statement-plan.js';
import { renderTemplate, variablesUsed, type TemplateVariable } from '../sql/template.js';
import { splitStatements, type SqlStatement } from '../sql/tokenizer.js';
import type { DataTransaction } from '../store/store.js';
import { AttemptFailure } from './attempt-failure.js';
import { checkTestQuery } from './test-query.js';
import { readWatermark } from './watermark.js';

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
  return splitStatements(task.sql).map((s) => {
    const plan = planStatement(s);
    const countsRows = scope.changesPersistent(plan);
    scope.apply(plan, []);
    return { ...s, isQuery: plan.kind === 'select', countsRows, variables: variablesUsed(s.text) };
  });
}

/** Runs a bare query to completion (so its errors surface) while holding one chunk at a time. */
async function drain(conn: DuckDBConnection, sql: string): Promise<void> {
  const result = await conn.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    /* discard */
  }
}

function isConflict(message: string): boolean {
  return /TransactionContext Error.*conflict/i.test(message) || /write-write conflict/i.test(message);
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

export async function runSqlAttempt(options: AttemptOptions): Promise<AttemptSuccess> {
  const { task, statements } = options;
  const conn: DuckDBConnection = await options.instance.connect();
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
  let current: SqlStatement | undefined;
  // Lines sent before the statement in the failing call (the BEGIN that rides with the first one).
  let sentBefore = 0;
  try {
    if (options.signal?.aborted) throw new AttemptFailure('cancelled', 'cancelled before it started', {});
    let rows = 0;
    let begin = 'BEGIN TRANSACTION;\n';
    const values: Partial<Record<TemplateVariable, string>> = {};
    for (const stmt of statements) {
      current = stmt;
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
      sentBefore = begin !== '' && !stmt.isQuery ? 1 : 0;
      if (stmt.isQuery) {
        if (begin !== '') await conn.run(begin);
        await drain(conn, sql);
      } else {
        // BEGIN travels with the first statement: one round trip fewer per task.
        const changed = rowsAffected(await conn.run(begin + sql));
        if (stmt.countsRows) rows += changed;
      }
      begin = '';
    }
    current = undefined;
    if (begin !== '') await conn.run(begin);
    for (const test of task.tests) await runTest(conn, task, test);
    if (options.signal?.aborted || timedOut) throw new Error('interrupted before commit');
    const watermark = await readWatermark(conn, task);
    const success = { rows, watermark };
    if (options.commit) await options.commit(success, { connection: conn });
    else await conn.run('COMMIT');
    return success;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    if (options.signal?.aborted && !(err instanceof AttemptFailure)) {
      throw new AttemptFailure('cancelled', "cancelled: the run was interrupted and the task's changes were rolled back", {});
    }
    throw toFailure(err, task, current && { stmt: current, sentBefore }, timedOut, options.timeoutMs);
  } finally {
    options.signal?.removeEventListener('abort', stop);
    if (timer) clearTimeout(timer);
    if (stopping) clearInterval(stopping);
    conn.closeSync();
  }
}

async function runTest(conn: DuckDBConnection, task: TaskDefinition, test: TaskTest): Promise<void> {
  let outcome;
  try {
    outcome = await checkTestQuery(conn, test.sql, test.assertion);
  } catch (err) {
    throw new AttemptFailure(
      'test',
      `@test ${test.index} (${task.file}:${test.line}) could not run: ${firstLine(err instanceof Error ? err.message : String(err))}`,
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
 * Where in the task file an error happened: DuckDB's message names the line of the text it was
 * sent (`LINE 3: …`); mapped back to the file, that is the failing line of the statement. (Its
 * caret column is not reliable once another statement rode along, so the line's first character
 * is used.)
 */
function errorLocation(task: TaskDefinition, failing: { stmt: SqlStatement; sentBefore: number }, message: string): SourceLocation {
  const start = bodyLocation(task.file, task.sql, task.bodyLine, task.bodyCol, failing.stmt.start);
  const reported = /\nLINE (\d+):/.exec(message);
  const lines = failing.stmt.text.split('\n');
  const index = reported ? Number(reported[1]) - 1 - failing.sentBefore : 0;
  if (index <= 0 || index >= lines.length) return start;
  const text = lines[index]!;
  return { file: task.file, line: start.line + index, col: text.length - text.trimStart().length + 1 };
}

function toFailure(
  err: unknown,
  task: TaskDefinition,
  failing: { stmt: SqlStatement; sentBefore: number } | undefined,
  timedOut: boolean,
  timeoutMs: number | null,
): AttemptFailure {
  if (err instanceof AttemptFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  const location = failing ? errorLocation(task, failing, message) : undefined;
  const where = location ? `${location.file}:${location.line}:${location.col}: ` : '';
  const context: Record<string, unknown> = {
    duckdb_error: message,
    ...(location ? { file: location.file, line: location.line, col: location.col } : {}),
  };
  if (timedOut) {
    return new AttemptFailure(
      'timeout',
      `${where}timed out after ${(timeoutMs ?? 0) / 1000}s (@timeout); the query was interrupted and its changes rolled back`,
      context,
    );
  }
  if (isConflict(message)) return new AttemptFailure('conflict', `${where}${firstLine(message)}`, context);
  if (/Ambiguous reference to catalog or schema/i.test(message)) {
    // The project database is named like a schema the task uses (see `register`'s warning).
    return new AttemptFailure(
      'sql',
      `${where}${firstLine(message)} (the database file has the name of a schema the task uses: rename one of them)`,
      context,
    );
  }
  return new AttemptFailure('sql', `${where}${firstLine(message)}`, context);
}

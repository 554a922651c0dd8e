/**
 * Runs an asset's `@check`s against the data as the given connection sees it: inside a task's
 * attempt, before its commit (so that an `error` check that fails rolls the attempt's data back),
 * or on its own for `check run`. `${asset}` in the SQL is the asset's name; a partitioned task's
 * checks get the partition's parameters bound as its statements do.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { describeExpectation, evaluateCheck } from '../model/checks.js';
import type { CheckDecl } from '../model/taskfile/task.js';
import type { TaskDefinition } from '../model/taskfile/task.js';
import type { CheckResultRecord } from '../store/ledger.js';
import { oneLine, parseDuckdbError } from './duckdb-error.js';
import { bindParameters, partitionParameters, type Parameters } from './partition-parameters.js';

export interface CheckContext {
  asset: string;
  partitionKey: string;
  parameters: Parameters | undefined;
  runId: string | null;
  jobId: string | null;
  now: () => Date;
}

/** The check's SQL with `${asset}` replaced. */
export function checkSql(check: Pick<CheckDecl, 'sql'>, asset: string): string {
  return check.sql
    .replaceAll('${asset}', asset)
    .trim()
    .replace(/;+\s*$/, '');
}

async function firstRow(
  conn: DuckDBConnection,
  sql: string,
  parameters: Parameters | undefined,
  task: TaskDefinition,
): Promise<unknown[] | undefined> {
  if (parameters && sql.includes('$')) {
    const prepared = await conn.prepare(sql);
    try {
      bindParameters(prepared, parameters, task);
      const reader = await prepared.streamAndReadUntil(1);
      return reader.getRows()[0];
    } finally {
      prepared.destroySync();
    }
  }
  return (await conn.streamAndReadUntil(sql, 1)).getRows()[0];
}

export async function runChecks(conn: DuckDBConnection, task: TaskDefinition, ctx: CheckContext): Promise<CheckResultRecord[]> {
  const out: CheckResultRecord[] = [];
  for (const check of task.checks) {
    const base = {
      asset: ctx.asset,
      partitionKey: ctx.partitionKey,
      check: check.name,
      severity: check.severity,
      expected: describeExpectation(check.op, check.value),
      runId: ctx.runId,
      jobId: ctx.jobId,
    };
    try {
      const row = await firstRow(conn, checkSql(check, ctx.asset), ctx.parameters, task);
      const outcome = evaluateCheck(check.op, check.value, row ? 1 : 0, row?.[0]);
      out.push({
        ...base,
        passed: outcome.passed,
        value: outcome.value,
        error: outcome.passed ? null : outcome.message,
        checkedAt: ctx.now(),
      });
    } catch (err) {
      const text = oneLine(parseDuckdbError(err instanceof Error ? err.message : String(err)).text);
      out.push({
        ...base,
        passed: false,
        value: 'ERROR',
        error: `${task.file}:${check.line}: the check's query failed: ${text}`,
        checkedAt: ctx.now(),
      });
    }
  }
  return out;
}

/** The failed `error`-severity checks, as one message: what fails an attempt. */
export function failedErrorChecks(results: readonly CheckResultRecord[]): string | undefined {
  const failed = results.filter((r) => !r.passed && r.severity === 'error');
  if (failed.length === 0) return undefined;
  return failed.map((r) => `@check ${r.check} failed: ${r.error}`).join('; ');
}

/**
 * `check run`: the task's checks against the data as it is now, with the partition's parameters
 * bound, in a transaction rolled back afterwards (nothing the checks' SQL does is kept).
 */
export async function checkCurrentData(
  instance: DuckDBInstance,
  task: TaskDefinition,
  ctx: Omit<CheckContext, 'parameters'>,
): Promise<CheckResultRecord[]> {
  const conn = await instance.connect();
  try {
    await conn.run('BEGIN TRANSACTION');
    return await runChecks(conn, task, { ...ctx, parameters: partitionParameters(task, ctx.partitionKey) });
  } finally {
    await conn.run('ROLLBACK').catch(() => undefined);
    conn.closeSync();
  }
}

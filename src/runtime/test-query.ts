/**
 * Runs a `@test` query and reads only what its assertion needs: a row count for
 * `expect_empty`/`expect_non_empty` (counted by DuckDB, not shipped to JS), the first cell for
 * the numeric assertions (streamed, so a large result is never materialised).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { evaluateAssertion, type AssertionOutcome } from '../model/assertions.js';
import type { TestAssertion } from '../model/taskfile/task.js';

export async function checkTestQuery(conn: DuckDBConnection, sql: string, assertion: TestAssertion): Promise<AssertionOutcome> {
  const query = sql.trim().replace(/;+\s*$/, '');
  if (assertion.kind === 'expect_empty' || assertion.kind === 'expect_non_empty') {
    const reader = await conn.runAndReadAll(`SELECT count(*) FROM (${query}) AS duckorch_test`);
    return evaluateAssertion(assertion, Number(reader.getRows()[0]![0]), undefined);
  }
  const reader = await conn.streamAndReadUntil(query, 1);
  const rows = reader.getRows();
  return evaluateAssertion(assertion, rows.length, rows[0]?.[0]);
}

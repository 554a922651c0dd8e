/**
 * `@incremental_by` watermarks, kept in the DuckDB file beside the data they describe and
 * written inside the task's own transaction: the data, the job's outcome and the position of
 * the next load are one commit, whichever ledger records the job.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { stringLiteral } from './sql-util.js';

/** The watermark recorded by the task's last success in this partition; undefined when none is stored here. */
export async function storedWatermark(conn: DuckDBConnection, task: string, partitionKey: string): Promise<string | undefined> {
  const row = (
    await conn.runAndReadAll('SELECT value FROM __orch__.watermarks WHERE task_name = $1 AND partition_key = $2', [task, partitionKey])
  ).getRows()[0];
  return row === undefined ? undefined : String(row[0]);
}

/** The statement that moves the watermark, run in the task's open transaction just before its commit. */
export function storeWatermarkSql(task: string, partitionKey: string, value: string, jobId: string, at: Date): string {
  return (
    `INSERT OR REPLACE INTO __orch__.watermarks VALUES (${stringLiteral(task)}, ${stringLiteral(partitionKey)}, ` +
    `${stringLiteral(value)}, ${stringLiteral(jobId)}, ${stringLiteral(at.toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP)`
  );
}

/**
 * Completion markers: with a shared ledger a job's data (in DuckDB) and its completion (in
 * PostgreSQL) are two commits, so the data's transaction also records that it committed, and a
 * job whose completion never reached PostgreSQL is recorded from its marker instead of running
 * again. (Types only from the DuckDB binding: a worker that opens no file never loads it.)
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { SuccessOutcome } from '../ledger.js';
import { stringLiteral } from './sql-util.js';

/**
 * The statement that records, inside a job's open data transaction, that its data commits; sent
 * with the COMMIT in one round trip.
 */
export function completionMarkerSql(jobId: string, attempt: number, committedAt: Date, outcome: SuccessOutcome): string {
  const json = JSON.stringify({
    rows: outcome.rows,
    result: outcome.result,
    watermark: outcome.watermark,
    codeVersion: outcome.codeVersion,
    assets: outcome.assets,
  });
  return (
    `INSERT INTO __orch__.completion_markers VALUES (${stringLiteral(jobId)}, ${Math.trunc(attempt)}, ` +
    `${stringLiteral(committedAt.toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP, ${stringLiteral(json)})`
  );
}

export interface CommittedOutcome {
  attempt: number;
  committedAt: Date;
  outcome: SuccessOutcome;
}

/** The outcome an earlier attempt of the job committed with its data, if one did. */
export async function findCompletionMarker(conn: DuckDBConnection, jobId: string): Promise<CommittedOutcome | undefined> {
  const row = (
    await conn.runAndReadAll(
      'SELECT attempt, epoch_ms(committed_at)::DOUBLE, outcome_json FROM __orch__.completion_markers WHERE job_id = $1 ORDER BY attempt DESC LIMIT 1',
      [jobId],
    )
  ).getRows()[0];
  if (!row) return undefined;
  const o = JSON.parse(String(row[2])) as SuccessOutcome;
  return {
    attempt: Number(row[0]),
    committedAt: new Date(Number(row[1])),
    outcome: { rows: o.rows, result: o.result, watermark: o.watermark, codeVersion: o.codeVersion, assets: o.assets },
  };
}

/**
 * What a shared ledger needs to know from inside a DuckDB database file: its id (the name it
 * goes by in PostgreSQL's leases and jobs, the same on every machine that mounts the file), and
 * the completion markers that commit with a job's data, so that a job whose completion never
 * reached PostgreSQL is recorded from its marker instead of running again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { SuccessOutcome } from '../ledger.js';
import { stringLiteral } from './sql-util.js';

/** The database's id, or undefined when the file predates it (not yet migrated by a writer). */
export async function readDatabaseId(conn: DuckDBConnection): Promise<string | undefined> {
  const exists = await conn.runAndReadAll(
    "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '__orch__' AND table_name = 'database_meta'",
  );
  if (Number(exists.getRows()[0]![0]) === 0) return undefined;
  const row = (await conn.runAndReadAll("SELECT value FROM __orch__.database_meta WHERE key = 'database_id'")).getRows()[0];
  return row ? String(row[0]) : undefined;
}

/**
 * The id of the database in `file`, read without writing anything: the file is opened read-only
 * for the read and closed again. Undefined when it cannot be read now (missing, held by a
 * writing process on this machine, or without an id yet).
 */
export async function peekDatabaseId(file: string): Promise<string | undefined> {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) return undefined;
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(resolved, { access_mode: 'READ_ONLY' });
  } catch {
    return undefined;
  }
  try {
    const conn = await instance.connect();
    try {
      return await readDatabaseId(conn);
    } finally {
      conn.closeSync();
    }
  } catch {
    return undefined;
  } finally {
    instance.closeSync();
  }
}

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

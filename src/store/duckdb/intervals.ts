/**
 * The intervals an interval task has processed, kept in the DuckDB file beside the data (as
 * watermarks are): each successful batch adds its `[start, end)` inside the task's own
 * transaction, so the data and the record of what it covers commit together, whichever ledger
 * records the job. `restate` removes a range.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { stringLiteral } from './sql-util.js';

/** The processed ranges of an asset, `[startMs, endMs)`, as stored (overlapping ones included). */
export async function processedRanges(conn: DuckDBConnection, asset: string): Promise<Array<[number, number]>> {
  const rows = (
    await conn.runAndReadAll(
      "SELECT start_ts::DOUBLE * 1000, end_ts::DOUBLE * 1000 FROM __orch__.asset_intervals WHERE asset_name = $1 AND status = 'succeeded'",
      [asset],
    )
  ).getRows();
  return rows.map(([s, e]) => [Number(s), Number(e)]);
}

/** The statement recording a processed batch, run in the task's open transaction just before its commit. */
export function recordIntervalSql(asset: string, unit: string, start: Date, end: Date, runId: string, at: Date): string {
  return (
    `INSERT INTO __orch__.asset_intervals VALUES (${stringLiteral(asset)}, ${stringLiteral(unit)}, ` +
    `${Math.floor(start.getTime() / 1000)}, ${Math.floor(end.getTime() / 1000)}, 'succeeded', ${stringLiteral(runId)}, ` +
    `${stringLiteral(at.toISOString().replace('T', ' ').replace('Z', ''))}::TIMESTAMP)`
  );
}

/**
 * Forgets what was processed in `[fromMs, toMs)`: rows inside it go, rows across its edges keep
 * their part outside it. One transaction.
 */
export async function clearIntervals(conn: DuckDBConnection, asset: string, fromMs: number, toMs: number): Promise<number> {
  const from = Math.floor(fromMs / 1000);
  const to = Math.floor(toMs / 1000);
  await conn.run('BEGIN TRANSACTION');
  try {
    const touched = Number(
      (
        await conn.runAndReadAll('SELECT count(*) FROM __orch__.asset_intervals WHERE asset_name = $1 AND start_ts < $3 AND end_ts > $2', [
          asset,
          from,
          to,
        ])
      ).getRows()[0]![0],
    );
    // The parts of overlapping rows outside the range are kept as rows of their own.
    await conn.run(
      `INSERT INTO __orch__.asset_intervals
       SELECT asset_name, interval_unit, start_ts, $2, status, run_id, created_at FROM __orch__.asset_intervals
       WHERE asset_name = $1 AND start_ts < $2 AND end_ts > $2
       UNION ALL
       SELECT asset_name, interval_unit, $3, end_ts, status, run_id, created_at FROM __orch__.asset_intervals
       WHERE asset_name = $1 AND start_ts < $3 AND end_ts > $3`,
      [asset, from, to],
    );
    // The pieces just kept end at `from` or start at `to`: they do not overlap the range.
    await conn.run('DELETE FROM __orch__.asset_intervals WHERE asset_name = $1 AND start_ts < $3 AND end_ts > $2', [asset, from, to]);
    await conn.run('COMMIT');
    return touched;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

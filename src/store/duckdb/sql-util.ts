/** Small SQL helpers shared by the embedded store and ledger. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Row } from '../rows.js';
import type { DataTransaction } from '../ledger.js';

export type ColumnTypes = Record<string, string>;

/** Rows per insert: one JSON parameter each, so a registry of 20,000 tasks is never one 50 MB string. */
const INSERT_CHUNK = 1000;

export async function insertRows<T>(
  conn: DuckDBConnection,
  table: string,
  columns: ColumnTypes,
  items: readonly T[],
  toRow: (item: T, index: number) => Row,
): Promise<void> {
  const names = Object.keys(columns);
  const structure = JSON.stringify([columns]);
  const sql =
    `INSERT INTO __orch__.${table} (${names.join(', ')}) SELECT ${names.map((n) => `r.${n}`).join(', ')} ` +
    `FROM (SELECT unnest(from_json($1::JSON, '${structure}')) AS r)`;
  for (let start = 0; start < items.length; start += INSERT_CHUNK) {
    const rows = items.slice(start, start + INSERT_CHUNK).map((item, i) => toRow(item, start + i));
    // Dates become ISO text through their own toJSON.
    await conn.run(sql, [JSON.stringify(rows)]);
  }
}

/**
 * A SQL string literal. Used only where binding would cost a round trip on the hot path (a
 * task's commit); DuckDB's standard strings have no backslash escapes, so doubling quotes is
 * complete.
 */
export function stringLiteral(value: string): string {
  return `'${value.replaceAll('\u0000', '').replaceAll("'", "''")}'`;
}

export async function inTransaction<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const result = await fn();
    await conn.run('COMMIT');
    return result;
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * What ends a task's data transaction in one round trip: the statements the task's own code
 * queued for its commit (its watermark), the ledger's record of the outcome, and the COMMIT.
 */
export function commitSql(tx: DataTransaction, record: string): string {
  return [...(tx.beforeCommit ?? []), record, 'COMMIT'].join(';\n');
}

/**
 * What a shared ledger needs to know from inside a DuckDB database file: its id, the name it
 * goes by in PostgreSQL's leases and jobs, the same on every machine that mounts the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

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
  // Loaded here: a worker whose database file does not exist yet never needs DuckDB's binding.
  const { DuckDBInstance } = await import('../../duckdb-api.js');
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

/** What the project's database holds, read from DuckDB's catalog (data, not orchestration state). */
import type { DuckDBConnection } from '@duckdb/node-api';
import { datasetKey, identifierParts } from '../model/names.js';

/** The given table names that exist as tables or views, compared as DuckDB compares names. */
export async function existingRelations(conn: DuckDBConnection, names: readonly string[]): Promise<Set<string>> {
  const reader = await conn.runAndReadAll(
    `SELECT database_name, schema_name, table_name, database_name = current_database() AS here, schema_name = current_schema() AS current
     FROM duckdb_tables() UNION ALL
     SELECT database_name, schema_name, view_name, database_name = current_database(), schema_name = current_schema()
     FROM duckdb_views() WHERE NOT internal`,
  );
  const keys = new Set<string>();
  for (const [db, schema, table, here, current] of reader.getRowsJS() as Array<[string, string, string, boolean, boolean]>) {
    const key = (...parts: string[]) => parts.join('\u0000').toLowerCase();
    keys.add(key(db, schema, table));
    if (here) keys.add(key(schema, table));
    if (here && current) keys.add(key(table));
  }
  return new Set(names.filter((n) => keys.has(identifierParts(datasetKey(n)).join('\u0000'))));
}

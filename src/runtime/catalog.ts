/** What the project's database holds, read from DuckDB's catalog (data, not orchestration state). */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { canonicalTableName, datasetKey, identifierParts, quoteIdentifier, schemaOf } from '../model/names.js';

/** The given table names that exist as tables or views, compared as DuckDB compares names. */
export async function existingRelations(conn: DuckDBConnection, names: readonly string[]): Promise<Set<string>> {
  const catalog = await readCatalog(conn);
  return new Set(names.filter((n) => catalog.has(n)));
}

export interface Catalog {
  /** Whether DuckDB finds a table or view by this name (compared as DuckDB compares names). */
  has(name: string): boolean;
  /** The tables and views of the database itself, outside duck-orch's `__orch__`, as people write them. */
  names: string[];
}

/**
 * The tables and views a query could name: the database's own (by `db.schema.name`,
 * `schema.name`, and `name` in the current schema), other attached databases' by their full
 * name, and DuckDB's system views (`information_schema.tables`, `pg_class`, `sqlite_master`).
 */
export async function readCatalog(conn: DuckDBConnection): Promise<Catalog> {
  const reader = await conn.runAndReadAll(
    `SELECT database_name, schema_name, table_name, database_name = current_database() AS here, schema_name = current_schema() AS current,
       false AS internal
     FROM duckdb_tables() UNION ALL
     SELECT database_name, schema_name, view_name, database_name = current_database(), schema_name = current_schema(), internal
     FROM duckdb_views()`,
  );
  const keys = new Set<string>();
  const names: string[] = [];
  const key = (...parts: string[]) => parts.join('\u0000').toLowerCase();
  for (const [db, schema, table, here, current, internal] of reader.getRowsJS() as Array<
    [string, string, string, boolean, boolean, boolean]
  >) {
    keys.add(key(db, schema, table));
    if (here || internal) keys.add(key(schema, table));
    // DuckDB's search path ends with the system's `main` and `pg_catalog` (`sqlite_master`, `pg_class`), not `information_schema`.
    if ((here && current) || (internal && schema !== 'information_schema')) keys.add(key(table));
    if (here && !internal && schema !== '__orch__') names.push(canonicalTableName([schema, table]));
  }
  return { has: (name) => keys.has(identifierParts(datasetKey(name)).join('\u0000')), names };
}

export interface TableColumns {
  exists: boolean;
  /** Column name → type, for the table's columns. */
  columns: Map<string, string>;
}

/** A table's columns from DuckDB's catalog; never an error (an error would abort the task's transaction). */
export async function tableColumns(conn: DuckDBConnection, table: string): Promise<TableColumns> {
  const parts = identifierParts(table);
  const [catalog, schema, name] = parts.length === 3 ? parts : parts.length === 2 ? [null, parts[0]!, parts[1]!] : [null, null, parts[0]!];
  const reader = await conn.runAndReadAll(
    `SELECT column_name, data_type FROM duckdb_columns()
     WHERE lower(table_name) = lower($1)
       AND (CASE WHEN $2::VARCHAR IS NULL THEN schema_name = current_schema() ELSE lower(schema_name) = lower($2) END)
       AND (CASE WHEN $3::VARCHAR IS NULL THEN database_name = current_database() ELSE lower(database_name) = lower($3) END)
     ORDER BY column_index`,
    [name, schema, catalog],
  );
  const rows = reader.getRowsJS();
  return { exists: rows.length > 0, columns: new Map(rows.map((r) => [String(r[0]), String(r[1])])) };
}

export function columnType(table: TableColumns, column: string): string | undefined {
  for (const [name, type] of table.columns) if (name.toLowerCase() === column.toLowerCase()) return type;
  return undefined;
}

/** Per open database: the schemas known to exist, and the creation in progress (one at a time). */
const ensured = new WeakMap<DuckDBInstance, { known: Set<string>; lane: Promise<void> }>();

/**
 * `CREATE SCHEMA IF NOT EXISTS` for each schema a task writes to, before its attempt: in
 * autocommit, one creation at a time per database (tasks running in parallel would otherwise
 * conflict on the catalog), each schema once per process. Quoted, so that `Sales Data` and
 * `Finance` are created as written.
 */
export async function ensureSchemas(instance: DuckDBInstance, outputs: readonly string[]): Promise<void> {
  let state = ensured.get(instance);
  if (!state) ensured.set(instance, (state = { known: new Set(), lane: Promise.resolve() }));
  const wanted = new Map<string, string>();
  for (const s of outputs.map(schemaOf)) if (s !== undefined && !state.known.has(s.toLowerCase())) wanted.set(s.toLowerCase(), s);
  if (wanted.size === 0) return;
  const known = state.known;
  const create = state.lane.then(async () => {
    const conn = await instance.connect();
    try {
      for (const [key, s] of wanted) {
        if (known.has(key)) continue;
        await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(s)}`);
        known.add(key);
      }
    } finally {
      conn.closeSync();
    }
  });
  state.lane = create.catch(() => undefined);
  await create;
}

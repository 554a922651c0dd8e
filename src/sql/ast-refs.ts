/**
 * Walks the JSON that DuckDB's `json_serialize_sql` produces and collects every table and
 * file a query reads: FROM items, joins, subqueries anywhere (SELECT list, WHERE, HAVING,
 * QUALIFY, EXISTS, IN), set operations and CTE bodies. CTE names are resolved with SQL's
 * scoping: a CTE is visible to later CTEs of the same WITH, to its own body only when
 * recursive, and to the query and its subqueries; a CTE never counts as an input.
 * Reads it cannot see (dynamic SQL, a file path computed at run time) are reported as untracked.
 */
import { identifierParts, parseDatasetName } from '../model/names.js';
import { fileRef, tableRef, type DatasetRef } from './dataset-ref.js';

/** Table functions that read files; their string arguments are file inputs. */
const FILE_READERS = new Set([
  'read_parquet',
  'parquet_scan',
  'read_csv',
  'read_csv_auto',
  'sniff_csv',
  'read_json',
  'read_json_auto',
  'read_json_objects',
  'read_json_objects_auto',
  'read_ndjson',
  'read_ndjson_auto',
  'read_ndjson_objects',
  'read_text',
  'read_blob',
  'read_xlsx',
  'delta_scan',
  'iceberg_scan',
  'st_read',
  'read_avro',
]);

/** A bare `FROM 'data/x.csv'` is a replacement scan over a file, not a table. */
const FILE_LIKE = /[/\\*]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|xlsx|avro|arrow)(\.(gz|zst|bz2|lz4))?$/i;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: Json | undefined): string {
  return typeof v === 'string' ? v : '';
}

/** Table functions that run SQL text given at run time. */
const DYNAMIC_SQL = new Set(['query', 'json_execute_serialized_sql']);

export interface QueryRefs {
  /** Every table and file read, as written (unqualified names stay unqualified). */
  reads: DatasetRef[];
  /** Why some reads of the query cannot be inferred. */
  untracked: string[];
}

interface Out {
  reads: DatasetRef[];
  untracked: Set<string>;
}

/** Collects the datasets read by a serialised statement list. */
export function collectRefs(serialized: Json): QueryRefs {
  const out: Out = { reads: [], untracked: new Set() };
  walk(serialized, [], out);
  return { reads: out.reads, untracked: [...out.untracked] };
}

function inScope(name: string, scope: readonly string[]): boolean {
  return scope.includes(name.toLowerCase());
}

function walk(node: Json | undefined, scope: readonly string[], out: Out): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, scope, out);
    return;
  }
  if (!isObject(node)) return;

  const cteMap = isObject(node.cte_map) && Array.isArray(node.cte_map.map) ? node.cte_map.map : undefined;
  if (cteMap && cteMap.length > 0) {
    const visible = [...scope];
    for (const entry of cteMap) {
      if (!isObject(entry)) continue;
      const name = str(entry.key).toLowerCase();
      walk(entry.value, visible, out);
      visible.push(name);
    }
    for (const [key, value] of Object.entries(node)) if (key !== 'cte_map') walk(value, visible, out);
    return;
  }

  switch (node.type) {
    case 'RECURSIVE_CTE_NODE': {
      const inner = [...scope, str(node.cte_name).toLowerCase()];
      for (const [key, value] of Object.entries(node)) walk(value, key === 'left' || key === 'right' ? inner : scope, out);
      return;
    }
    case 'BASE_TABLE': {
      const table = str(node.table_name);
      const schema = str(node.schema_name);
      const catalog = str(node.catalog_name);
      if (schema === '' && catalog === '' && inScope(table, scope)) return;
      if (schema === '' && catalog === '' && FILE_LIKE.test(table)) out.reads.push(fileRef(table));
      else out.reads.push(tableRef([catalog, schema, table]));
      return;
    }
    case 'TABLE_FUNCTION': {
      const fn = isObject(node.function) ? node.function : undefined;
      const name = fn ? str(fn.function_name).toLowerCase() : '';
      const first = fn && Array.isArray(fn.children) ? fn.children[0] : undefined;
      const args = constantStrings(first);
      if (FILE_READERS.has(name)) {
        for (const path of args ?? []) out.reads.push(fileRef(path));
        if (args === undefined) {
          out.untracked.add(
            `\`${name}(…)\` with a path that is not a constant string is not tracked: declare the files it reads with \`@inputs\``,
          );
        }
      }
      // query_table('t') and query_table(['a', 'b']) read tables named by strings.
      if (name === 'query_table') {
        for (const table of args ?? []) {
          const ref = tableNameRef(table);
          if (ref) out.reads.push(ref);
        }
        if (args === undefined) {
          out.untracked.add(
            '`query_table(…)` with a table name that is not a constant string is not tracked: declare the tables it reads with `@inputs`',
          );
        }
      }
      if (DYNAMIC_SQL.has(name)) {
        out.untracked.add(
          `dynamic SQL in \`${name}(…)\` is not tracked: declare the tables it reads with \`@inputs\` (or the tasks that write them with \`@depends_on\`)`,
        );
      }
      break;
    }
  }
  for (const value of Object.values(node)) walk(value, scope, out);
}

/** A table named in a string (`query_table('raw.t')`), keeping `main.` so that the name counts as qualified. */
function tableNameRef(text: string): DatasetRef | undefined {
  const parsed = parseDatasetName(text);
  if (parsed === undefined || parsed.startsWith('file:')) return undefined;
  const parts = identifierParts(parsed);
  return tableRef(/^\s*"?main"?\s*\./i.test(text) && parts.length === 1 ? ['main', ...parts] : parts);
}

/** String constants of `'x'` or `['x', 'y']` (serialised as a `list_value` call); `undefined` when not constant. */
function constantStrings(expr: Json | undefined): string[] | undefined {
  if (!isObject(expr)) return undefined;
  if (expr.class === 'CONSTANT' && isObject(expr.value)) {
    const v = expr.value;
    const type = isObject(v.type) ? str(v.type.id) : '';
    return type === 'VARCHAR' && v.is_null === false && typeof v.value === 'string' ? [v.value] : undefined;
  }
  if (expr.class === 'FUNCTION' && str(expr.function_name) === 'list_value' && Array.isArray(expr.children)) {
    const items = expr.children.map((c) => constantStrings(c));
    return items.every((i) => i !== undefined) ? items.flat() : undefined;
  }
  return undefined;
}

export type { Json };

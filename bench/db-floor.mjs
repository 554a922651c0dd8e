// The floor under any command on a project database: start Node, load @duckdb/node-api, open the
// database (read-write, as `status` does), read the 50 latest task runs, close. Nothing of duck-orch.
// Usage: node bench/db-floor.mjs <db>
// Prints one JSON line: { ms (open + query + close), rows }.
import { DuckDBInstance } from '@duckdb/node-api';

const [db] = process.argv.slice(2);
const t0 = performance.now();
const instance = await DuckDBInstance.create(db);
const conn = await instance.connect();
const rows = (await conn.runAndReadAll('SELECT * FROM __orch__.runs ORDER BY coalesce(started_at, finished_at) DESC LIMIT 50')).getRows();
conn.closeSync();
instance.closeSync();
process.stdout.write(JSON.stringify({ ms: performance.now() - t0, rows: rows.length }) + '\n');

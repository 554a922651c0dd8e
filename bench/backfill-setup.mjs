// The `backfill-365` case's data: `raw.events`, <rows> rows over the 365 days of 2025 (in day
// order, as a loaded fact table usually is), in a fresh DuckDB file.
// Usage: node bench/backfill-setup.mjs <db> <rows>
// Prints one JSON line: { ms, rows, bytes }.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [db, rowsArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const t0 = performance.now();
const instance = await DuckDBInstance.create(db);
const conn = await instance.connect();
await conn.run('CREATE SCHEMA raw');
await conn.run(
  `CREATE TABLE raw.events AS
   SELECT DATE '2025-01-01' + (i * 365 // ${rows})::INTEGER AS day, (hash(i) % 1000)::INTEGER AS customer,
          (hash(i * 7) % 10000) / 100.0 AS amount
   FROM range(${rows}) t(i)`,
);
const [[n]] = (await conn.runAndReadAll('SELECT count(*) FROM raw.events')).getRows();
await conn.run('CHECKPOINT');
conn.closeSync();
instance.closeSync();
console.log(JSON.stringify({ ms: performance.now() - t0, rows: Number(n), bytes: fs.statSync(db).size }));

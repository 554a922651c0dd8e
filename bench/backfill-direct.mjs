// The `backfill-365` case's baseline: what a backfill does, written directly against
// @duckdb/node-api in one process: per day, in a transaction, the task's three statements (its
// CREATE TABLE IF NOT EXISTS, and its DELETE and INSERT as prepared statements with the day
// bound). <parallel> connections take days from one counter.
// Usage: node bench/backfill-direct.mjs <db> <days> <parallel>
// Prints one JSON line: { ms, days, rows }.
import { DuckDBInstance, dateValue } from '@duckdb/node-api';

const [db, daysArg, parallelArg] = process.argv.slice(2);
const days = Number(daysArg);
const parallel = Number(parallelArg);
const t0 = performance.now();
const instance = await DuckDBInstance.create(db);
const CREATE = 'CREATE TABLE IF NOT EXISTS analytics.daily_totals (day DATE, customer INTEGER, total DOUBLE, n BIGINT)';
const setup = await instance.connect();
await setup.run('CREATE SCHEMA IF NOT EXISTS analytics');
await setup.run(CREATE);
setup.closeSync();
const start = Date.UTC(2025, 0, 1) / 86_400_000;
let next = 0;
let rows = 0;
async function lane() {
  const conn = await instance.connect();
  const del = await conn.prepare('DELETE FROM analytics.daily_totals WHERE day = $1');
  const ins = await conn.prepare(
    'INSERT INTO analytics.daily_totals SELECT day, customer, sum(amount), count(*) FROM raw.events WHERE day = $1 GROUP BY day, customer',
  );
  for (let d = next++; d < days; d = next++) {
    await conn.run('BEGIN TRANSACTION');
    await conn.run(CREATE);
    del.bindDate(1, dateValue(start + d));
    await del.run();
    ins.bindDate(1, dateValue(start + d));
    const r = await ins.run();
    rows += Number(r.getChunk(0).getColumnValues(0)[0]);
    await conn.run('COMMIT');
  }
  conn.closeSync();
}
await Promise.all(Array.from({ length: parallel }, lane));
instance.closeSync();
console.log(JSON.stringify({ ms: performance.now() - t0, days, rows }));

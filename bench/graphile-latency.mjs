// graphile-worker's side of the `latency-pg` case, the same method as bench/latency-duckorch.mjs:
// a runner (concurrency 4, LISTEN/NOTIFY, pollInterval 2 s as by default) idle in this process,
// and jobs added one at a time with addJob; each sample is the time from calling addJob to the
// task function's start. Fresh schema, dropped at the end.
// Usage: node bench/graphile-latency.mjs <samples>
// Prints one JSON line: { samples: [ms…] }.
import { randomBytes } from 'node:crypto';
import { Logger, run } from 'graphile-worker';
import pg from 'pg';

const n = Number(process.argv[2] ?? 200);
const connectionString = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_gwl_${randomBytes(6).toString('hex')}`;
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});
let waiting;
const runner = await run({
  connectionString,
  schema,
  concurrency: 4,
  noHandleSignals: true,
  logger,
  taskList: {
    noop: async () => {
      waiting.started = performance.now();
      waiting.resolve();
    },
  },
});
// The first jobs load the task module and warm both sides' caches: not counted.
const WARMUP = 5;
const samples = [];
try {
  for (let i = 0; i < n + WARMUP; i++) {
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    const done = new Promise((resolve) => (waiting = { resolve }));
    waiting.t0 = performance.now();
    await runner.addJob('noop', {});
    await done;
    if (i >= WARMUP) samples.push(waiting.started - waiting.t0);
  }
} finally {
  await runner.stop();
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
process.stdout.write(JSON.stringify({ samples }) + '\n');

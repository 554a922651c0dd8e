// The measured side of `enqueue-many`: one process that connects a client (the package root's
// `connect`) to a ledger whose DAG `etl` has an active snapshot and enqueues N runs of it in one
// `client.enqueueMany` call.
// Usage: node bench/enqueue-many.mjs <postgres-url | duckdb-file> <runs> [schema]
// Prints one JSON line: { ms (the enqueueMany call alone), connectMs, closeMs, runs, jobs }.
import { connect } from '../dist/index.js';

const [target, count, schema] = process.argv.slice(2);
const n = Number(count);
const inputs = Array.from({ length: n }, (_, i) => ({ order: i, day: '2026-12-01' }));
const c0 = performance.now();
const client = await connect(target, schema ? { schema } : {});
const connectMs = performance.now() - c0;
let ms, jobs;
try {
  const t0 = performance.now();
  const runs = await client.enqueueMany('etl', inputs, { metadata: { source: 'bench' } });
  ms = performance.now() - t0;
  // Checked, after the clock: every run and every job is in the ledger, pending.
  if (runs.length !== n || new Set(runs.map((r) => r.id)).size !== n) throw new Error(`${runs.length} runs returned of ${n}`);
  jobs = runs[0].tasks * n;
  const depth = await client.queueDepth({ dag: 'etl' });
  if (depth.pending !== jobs) throw new Error(`${depth.pending} jobs pending, expected ${jobs}`);
} finally {
  const e0 = performance.now();
  await client.close();
  process.stdout.write(JSON.stringify({ ms, connectMs, closeMs: performance.now() - e0, runs: n, jobs }) + '\n');
}

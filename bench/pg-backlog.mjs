// Fills a fresh ledger schema with a backlog of jobs that are not runnable: one run of a `gate`
// job scheduled ten years ahead and N jobs waiting for it (not measured: the `backlog-pg` case
// then times the no-op run beside this backlog against one beside an empty queue).
// Usage: node bench/pg-backlog.mjs <jobs>   (BENCH_LEDGER_URL, BENCH_LEDGER_SCHEMA)
// Prints one JSON line: { jobs, ms }.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgLedger } from '../dist/store/postgres/pg-ledger.js';

const n = Number(process.argv[2]);
const pool = new pg.Pool({ connectionString: process.env.BENCH_LEDGER_URL, max: 2 });
const t0 = performance.now();
try {
  const ledger = new PgLedger(pool, { schema: process.env.BENCH_LEDGER_SCHEMA });
  await ledger.migrate();
  const snapshot = { id: 'sha256:backlog', createdAt: new Date(), tasks: new Map() };
  await ledger.saveSnapshot(snapshot);
  const jobs = [{ task: 'gate', upstream: [], maxAttempts: 1 }];
  for (let i = 0; i < n; i++) jobs.push({ task: `held_${i}`, upstream: ['gate'], maxAttempts: 1 });
  const run = await ledger.enqueueRun(
    { id: randomUUID(), snapshotId: snapshot.id, trigger: 'bench', selector: null, inputs: null, jobs },
    new Date(),
  );
  await pool.query(
    `UPDATE "${process.env.BENCH_LEDGER_SCHEMA}".jobs SET run_at = now() + interval '10 years' WHERE run_id = $1 AND task_name = 'gate'`,
    [run.id],
  );
  await pool.query(`ANALYZE "${process.env.BENCH_LEDGER_SCHEMA}".jobs`);
} finally {
  await pool.end();
}
process.stdout.write(JSON.stringify({ jobs: n + 1, ms: performance.now() - t0 }) + '\n');

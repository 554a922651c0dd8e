// duck-orch's side of a paired run: opens a project database that is already registered (a copy
// of the template plan.mjs registered, so no registration happens in this process) and runs every
// task through the library API, as `duck-orch run -p <n>` does.
// Usage: node bench/duckorch-run.mjs <db> <max-parallel>
// Prints one JSON line: { ms (the run, excluding opening and closing the database), closeMs, tasks, succeeded, rows }.
import { Project, loadConfig } from '../dist/index.js';

const [db, maxParallel] = process.argv.slice(2);
// BENCH_LEDGER_URL (and _SCHEMA) put the ledger on PostgreSQL, as DATABASE_URL does for users.
const ledgerEnv = process.env.BENCH_LEDGER_URL
  ? { DATABASE_URL: process.env.BENCH_LEDGER_URL, DUCKORCH_PG_SCHEMA: process.env.BENCH_LEDGER_SCHEMA ?? 'duckorch' }
  : {};
const project = await Project.open({ config: loadConfig({ flags: { db }, env: ledgerEnv }), access: 'write', ledgerSchema: 'migrate' });
let result, ms, c0;
try {
  const t0 = performance.now();
  result = await project.run({ maxParallel: Number(maxParallel) });
  ms = performance.now() - t0;
} finally {
  c0 = performance.now();
  await project.close();
}
const closeMs = performance.now() - c0;
const { run, jobs } = result;
if (run?.state !== 'succeeded') {
  const bad = jobs.find((j) => j.state !== 'succeeded');
  throw new Error(`run ${run?.state}: ${bad?.task}: ${bad?.error}`);
}
const rows = jobs.reduce((n, j) => n + (j.rows ?? 0), 0);
process.stdout.write(JSON.stringify({ ms, closeMs, tasks: jobs.length, succeeded: run.counts.succeeded ?? 0, rows }) + '\n');

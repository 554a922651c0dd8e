// The set-up of the drain-* and worker-startup cases, before the clock: takes and activates a
// snapshot of the one-task no-op DAG (what `duck-orch snapshot --activate --dag <module>` does,
// on a ledger migrated as `init-db` migrates it), then queues `runs` runs of it by its name
// (`duck-orch --dag drain enqueue`), through the library API in this one process.
// Usage: node bench/drain-setup.mjs <db> <module:export> <runs>
//   BENCH_LEDGER_URL (and _SCHEMA) put the ledger on PostgreSQL; else it is the DuckDB file.
// Prints one JSON line: { runs, snapshotMs, enqueueMs }.
import { Project, loadConfig } from '../dist/index.js';

const [db, moduleSpec, runsArg] = process.argv.slice(2);
const runs = Number(runsArg);
if (!Number.isInteger(runs) || runs < 0) throw new Error(`runs must be a whole number, got ${runsArg}`);
const env = process.env.BENCH_LEDGER_URL
  ? { DATABASE_URL: process.env.BENCH_LEDGER_URL, DUCKORCH_PG_SCHEMA: process.env.BENCH_LEDGER_SCHEMA ?? 'duckorch' }
  : {};
const open = (dag, access) => Project.open({ config: loadConfig({ flags: { db }, env }), access, ledgerSchema: 'migrate', dag });

/**
 * Queues `n` runs of the DAG one `enqueue` at a time. The one place to change when the client
 * gets a bulk `enqueueMany`.
 */
async function enqueueRuns(project, n) {
  for (let i = 0; i < n; i++) {
    const { run } = await project.enqueue({});
    if (run?.state !== 'queued' || run.tasks.length !== 1) throw new Error(`enqueue ${i + 1}: ${JSON.stringify(run)}`);
  }
}

const t0 = performance.now();
let project = await open(moduleSpec, 'create');
let dag;
try {
  ({ dag } = await project.snapshot({ activate: true }));
} finally {
  await project.close();
}
const snapshotMs = performance.now() - t0;
const t1 = performance.now();
project = await open(dag, 'write');
try {
  await enqueueRuns(project, runs);
} finally {
  await project.close();
}
process.stdout.write(JSON.stringify({ runs, dag, snapshotMs, enqueueMs: performance.now() - t1 }) + '\n');

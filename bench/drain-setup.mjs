// The set-up of the drain-* and worker-startup cases, before the clock: takes and activates a
// snapshot of the one-task no-op DAG (what `duck-orch snapshot --activate --dag <module>` does,
// on a ledger migrated as `init-db` migrates it), then queues `runs` runs of it by its name
// (`client.enqueueMany` of the application client), in this one process.
// Usage: node bench/drain-setup.mjs <db> <module:export> <runs>
//   BENCH_LEDGER_URL (and _SCHEMA) put the ledger on PostgreSQL; else it is the DuckDB file.
// Prints one JSON line: { runs, snapshotMs, enqueueMs }.
import { Project, connect, loadConfig } from '../dist/index.js';

const [db, moduleSpec, runsArg] = process.argv.slice(2);
const runs = Number(runsArg);
if (!Number.isInteger(runs) || runs < 0) throw new Error(`runs must be a whole number, got ${runsArg}`);
const env = process.env.BENCH_LEDGER_URL
  ? { DATABASE_URL: process.env.BENCH_LEDGER_URL, DUCKORCH_PG_SCHEMA: process.env.BENCH_LEDGER_SCHEMA ?? 'duckorch' }
  : {};
const open = (dag, access) => Project.open({ config: loadConfig({ flags: { db }, env }), access, ledgerSchema: 'migrate', dag });

/** Queues `n` runs of the DAG in one `enqueueMany` call of the application client. */
async function enqueueRuns(dag, n) {
  const client = await connect(process.env.BENCH_LEDGER_URL ?? db, process.env.BENCH_LEDGER_URL ? { schema: env.DUCKORCH_PG_SCHEMA } : {});
  try {
    const runs = await client.enqueueMany(
      dag,
      Array.from({ length: n }, () => null),
    );
    if (runs.length !== n || runs.some((r) => r.state !== 'queued')) throw new Error(`enqueueMany: ${runs.length} runs`);
  } finally {
    await client.close();
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
await enqueueRuns(dag, runs);
process.stdout.write(JSON.stringify({ runs, dag, snapshotMs, enqueueMs: performance.now() - t1 }) + '\n');

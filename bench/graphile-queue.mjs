// graphile-worker's queue for the drain-* and worker-startup cases, before the clock: installs its
// schema (migrate) and adds `jobs` no-op jobs of the task `noop` in batches of 10,000 (addJobs,
// one statement each). Imports nothing of duck-orch.
// Usage: node bench/graphile-queue.mjs <schema> <jobs>   ($DATABASE_URL)
// Prints one JSON line: { jobs, ms }.
import { Logger, makeWorkerUtils } from 'graphile-worker';

const [schema, jobsArg] = process.argv.slice(2);
const jobs = Number(jobsArg);
if (!schema || !Number.isInteger(jobs) || jobs < 0) throw new Error('usage: graphile-queue.mjs <schema> <jobs>');
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});
const t0 = performance.now();
const utils = await makeWorkerUtils({ connectionString: process.env.DATABASE_URL, schema, logger });
try {
  await utils.migrate();
  for (let i = 0; i < jobs; i += 10_000)
    await utils.addJobs(Array.from({ length: Math.min(10_000, jobs - i) }, (_, k) => ({ identifier: 'noop', payload: { i: i + k } })));
} finally {
  await utils.release();
}
process.stdout.write(JSON.stringify({ jobs, ms: performance.now() - t0 }) + '\n');

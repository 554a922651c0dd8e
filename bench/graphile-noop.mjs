// The graphile-worker baseline of the `fn-noop` case: N no-op jobs of one task identifier, run by a
// graphile-worker runner on this machine's PostgreSQL. It imports nothing of duck-orch, so the peak
// RSS of this process is graphile-worker's (and node-postgres's) own.
// Usage: node bench/graphile-noop.mjs [concurrency=4] [jobs=1000] [timeout-s=300]
// Connects to $DATABASE_URL, or postgres://postgres@127.0.0.1:5432/test. Every run uses a fresh
// schema (bench_gw_<random>), dropped at the end, also on failure and on SIGINT/SIGTERM.
//   1. Before the clock: install graphile-worker's schema (migrate) and add the N jobs in one batch
//      (addJobs, one statement).
//   2. The clock: from calling `run` (the worker pool connects, checks the schema, LISTENs, fetches
//      jobs; LISTEN/NOTIFY as by default, pollInterval 50 ms) until every job is done, i.e. N
//      `job:success` events and no row left in the jobs table (a job's completion is written
//      after its event, so the table is polled once the N events arrived).
//   3. After the clock: stop the runner (timed apart), check that no job failed and none is left.
// Prints one JSON line: { jobs, concurrency, ms, jobsPerSecond, startMs (run → first job started),
// drainMs (last job:success → table empty), stopMs, peakRssMb, graphileWorker, postgres }.
// On failure prints `graphile-noop: <reason>` as its last line of stderr and exits 1.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';

const [concurrency = 4, jobs = 1000, timeoutS = 300] = process.argv.slice(2).map(Number);
for (const [name, v] of Object.entries({ concurrency, jobs, timeoutS }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);

const connectionString = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const schema = `bench_gw_${randomBytes(6).toString('hex')}`;
const TASK = 'noop';
const where = (() => {
  try {
    const u = new URL(connectionString);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`; // never the password
  } catch {
    return 'DATABASE_URL';
  }
})();
const version = JSON.parse(fs.readFileSync(new URL('../node_modules/graphile-worker/package.json', import.meta.url), 'utf8')).version;

// graphile-worker logs every completed job at `info`: only warnings and errors go to stderr, so
// that 1,000 log lines do not count in its time (duck-orch's side is run without progress output too).
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

let admin = null; // a connection of our own: schema drop, the jobs table polls
let utils = null;
let runner = null;
let schemaCreated = false;

async function cleanup() {
  if (runner) await runner.stop().catch(() => undefined);
  runner = null;
  if (utils) await utils.release().catch(() => undefined);
  utils = null;
  if (admin && schemaCreated) {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    schemaCreated = false;
  }
  if (admin) await admin.end().catch(() => undefined);
  admin = null;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    process.stderr.write(`graphile-noop: ${sig}, dropping schema ${schema}\n`);
    cleanup().finally(() => process.exit(130));
  });
}

const remaining = async () => Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.jobs`)).rows[0].n);

async function main() {
  admin = new pg.Client({ connectionString });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`PostgreSQL unreachable at ${where}: ${err.message || err.code || err}`);
  }
  const postgres = (await admin.query('SHOW server_version')).rows[0].server_version;
  schemaCreated = true; // from here on, whatever migrate managed to create is dropped
  utils = await makeWorkerUtils({ connectionString, schema, logger });
  await utils.migrate();
  await utils.addJobs(Array.from({ length: jobs }, (_, i) => ({ identifier: TASK, payload: { i } })));
  await utils.release();
  utils = null;
  if ((await remaining()) !== jobs) throw new Error(`addJobs: ${await remaining()} jobs queued, expected ${jobs}`);

  let succeeded = 0;
  let failed = 0;
  let firstStart = null;
  let lastSuccess = null;
  let allDone, fail;
  const done = new Promise((resolve, reject) => {
    allDone = resolve;
    fail = reject;
    setTimeout(() => reject(new Error(`timed out after ${timeoutS} s: ${succeeded} of ${jobs} jobs succeeded`)), timeoutS * 1000).unref();
  });

  const t0 = performance.now();
  runner = await run({
    connectionString,
    schema,
    logger,
    concurrency,
    noHandleSignals: true,
    pollInterval: 50,
    taskList: { [TASK]: async () => {} },
  });
  runner.events.on('job:start', () => {
    firstStart ??= performance.now();
  });
  runner.events.on('job:failed', () => failed++);
  runner.events.on('job:success', () => {
    if (++succeeded === jobs) {
      lastSuccess = performance.now();
      allDone();
    }
  });
  runner.promise.catch((err) => fail(new Error(`the runner failed: ${err.message}`)));
  await done;
  // Completions are written after the event: done means no row left.
  while ((await remaining()) > 0) await new Promise((r) => setTimeout(r, 2));
  const t1 = performance.now();
  const ms = t1 - t0;

  const s0 = performance.now();
  await runner.stop();
  runner = null;
  const stopMs = performance.now() - s0;
  const left = await remaining();
  if (failed > 0 || succeeded !== jobs || left !== 0)
    throw new Error(`${succeeded} succeeded, ${failed} failed, ${left} left of ${jobs} jobs`);
  return {
    jobs,
    concurrency,
    ms,
    jobsPerSecond: (jobs / ms) * 1000,
    startMs: firstStart === null ? null : firstStart - t0,
    drainMs: t1 - lastSuccess,
    stopMs,
    graphileWorker: version,
    postgres,
  };
}

let result;
try {
  result = await main();
} catch (err) {
  await cleanup().catch((e) => process.stderr.write(`graphile-noop: cleanup failed (schema ${schema} may be left): ${e.message}\n`));
  process.stderr.write(`graphile-noop: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
await cleanup();
// Peak RSS as the other bench children report it (bench/rss-hook.mjs writes it for the driver, too).
const peakRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ ...result, peakRssMb }) + '\n');

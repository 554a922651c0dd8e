// The cases of issue 12, whole processes as a user runs them, each beside graphile-worker 0.17.3's
// own CLI doing the same in the same run: draining a queue of many one-job runs
// (`duck-orch --dag drain worker --once -c N` against `graphile-worker --once --jobs N`), the
// ledger on PostgreSQL (`drain-pg`) or embedded in the DuckDB file (`drain-duckdb`); and a worker
// started on an empty queue (`worker-startup`). Every queue is filled before the clock (both before
// either side's clock); the clock runs from spawning the worker to its exit; each drained queue is
// checked (every job succeeded, none left). Every schema created is dropped.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { CLI, ROOT, describeExit, expectOk, fmtMb, fmtMs, fmtN, fmtRatio, runCli, runNode, runScript, summary, tail } from './lib.mjs';
import { PG_URL, dropSchemas, freshSchema, withPg } from './pg-cases.mjs';
import { drainModule } from './workloads.mjs';

const GRAPHILE_CLI = path.join(ROOT, 'node_modules/graphile-worker/dist/cli.js');

/** graphile-worker's project: the `tasks/noop.js` its CLI loads from its working directory. */
function graphileProject(work) {
  const dir = path.join(work, 'graphile');
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(path.join(dir, 'tasks'), { recursive: true });
    // CommonJS, whatever a package.json above the temporary folder says.
    fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "commonjs" }\n');
    fs.writeFileSync(path.join(dir, 'tasks/noop.js'), 'module.exports = async () => {};\n');
  }
  return dir;
}

/** Before the clock: graphile-worker's schema installed and `jobs` no-op jobs added. */
function graphileQueue(work, schema, jobs) {
  return runScript(work, 'graphile-queue.mjs', [schema, String(jobs)], { env: { DATABASE_URL: PG_URL } });
}

/**
 * `graphile-worker --once` (with `--jobs N` and the pool its own warning asks for when N > 10),
 * logging as it does by default (one line per job, to a file).
 */
function graphileWorker(work, schema, concurrency) {
  const args = ['--connection', PG_URL, '--schema', schema, '--once'];
  if (concurrency !== undefined) args.push('--jobs', String(concurrency), '--max-pool-size', String(Math.max(10, concurrency)));
  const r = runNode(work, [GRAPHILE_CLI, ...args], { cwd: graphileProject(work) });
  if (r.code !== 0 || r.signal) throw new Error(`graphile-worker --once failed (${describeExit(r)}):\n${tail(r.stderr || r.stdout)}`);
  return r;
}

const ledgerEnv = (schema) => (schema ? { DATABASE_URL: PG_URL, DUCKORCH_PG_SCHEMA: schema } : {});

/**
 * Before the clock: the drain DAG's snapshot activated and `runs` runs of it queued
 * (bench/drain-setup.mjs), the ledger in `schema` on PostgreSQL (migrated as `init-db` does) or,
 * when null, in `db`.
 */
function duckorchQueue(work, db, moduleSpec, runs, schema) {
  const env = schema ? { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: schema } : {};
  return runScript(work, 'drain-setup.mjs', [db, moduleSpec, String(runs)], { env });
}

/** `duck-orch --db <db> <args…>`, a whole process, logging as it does (one line per job event, to a file). */
function duckorchWorker(work, db, schema, args) {
  const r = runNode(work, [CLI, '--db', db, ...args], { env: ledgerEnv(schema) });
  if (r.code !== 0 || r.signal) throw new Error(`duck-orch ${args.join(' ')} failed (${describeExit(r)}):\n${tail(r.stderr)}`);
  if (!/ stopped$/m.test(r.stderr)) throw new Error(`duck-orch ${args.join(' ')} did not say it stopped:\n${tail(r.stderr)}`);
  return r;
}

/** Jobs per state in duck-orch's ledger: the PostgreSQL schema's, or the DuckDB file's. */
async function duckorchJobStates(db, schema) {
  const sql = (table) => `SELECT state, count(*)::INTEGER AS n FROM ${table} GROUP BY state`;
  if (schema) return withPg(async (c) => Object.fromEntries((await c.query(sql(`"${schema}".jobs`))).rows.map((r) => [r.state, r.n])));
  const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  try {
    const conn = await instance.connect();
    const rows = (await conn.runAndReadAll(sql('__orch__.jobs'))).getRows();
    conn.closeSync();
    return Object.fromEntries(rows.map(([state, n]) => [state, Number(n)]));
  } finally {
    instance.closeSync();
  }
}

const graphileJobsLeft = (schema) => withPg(async (c) => Number((await c.query(`SELECT count(*) AS n FROM "${schema}".jobs`)).rows[0].n));
const perSecond = (n, ms) => Math.round((n / ms) * 1000);

/**
 * `drain-pg` / `drain-duckdb`: for each concurrency, BENCH_PAIRS pairs; per pair both queues are
 * filled, then both workers run one after the other, which one first alternating. On the embedded
 * ledger the queue is written once into a template file that each run works a copy of (20,000
 * enqueues take minutes there); on PostgreSQL it is enqueued afresh into a new schema for each run.
 */
export async function drainCase({ mkWork, knobs, log }, store) {
  const work = mkWork(`drain-${store}`);
  const jobs = knobs.BENCH_DRAIN_JOBS;
  const pg = store === 'postgres';
  const concurrencies = pg ? knobs.BENCH_DRAIN_CONCURRENCY : knobs.BENCH_DRAIN_DUCKDB_CONCURRENCY;
  const moduleSpec = drainModule(path.join(work, 'dag'));
  const enqueued = [];
  const queued = (s) => {
    enqueued.push(s.enqueueMs);
    return s;
  };
  let template = null;
  if (!pg) {
    template = path.join(work, 'queued.duckdb');
    const s = queued(duckorchQueue(work, template, moduleSpec, jobs, null));
    log(`  ${fmtN(jobs)} runs enqueued into the template in ${fmtMs(s.enqueueMs)} (${fmtN(perSecond(jobs, s.enqueueMs))}/s)`);
  }
  const rows = [];
  const data = { jobs, byConcurrency: {} };
  for (const c of concurrencies) {
    const samples = [];
    for (let i = 0; i < knobs.BENCH_PAIRS; i++) {
      const schema = pg ? freshSchema('drain') : null;
      const gwSchema = freshSchema('drain_gw');
      const db = path.join(work, `run-${c}-${i}.duckdb`);
      try {
        graphileQueue(work, gwSchema, jobs);
        if (pg) queued(duckorchQueue(work, db, moduleSpec, jobs, schema));
        else fs.copyFileSync(template, db);
        const graphile = async () => {
          const r = graphileWorker(work, gwSchema, c);
          const left = await graphileJobsLeft(gwSchema);
          if (left !== 0) throw new Error(`graphile-worker --once left ${left} of ${jobs} jobs`);
          return r;
        };
        const duck = async () => {
          const r = duckorchWorker(work, db, schema, ['--dag', 'drain', 'worker', '--once', '-c', String(c)]);
          const states = await duckorchJobStates(db, schema);
          if (states.succeeded !== jobs || Object.keys(states).length !== 1)
            throw new Error(`duck-orch worker --once left jobs by state ${JSON.stringify(states)}, expected ${jobs} succeeded`);
          return r;
        };
        let g, d;
        if (i % 2 === 0) {
          g = await graphile();
          d = await duck();
        } else {
          d = await duck();
          g = await graphile();
        }
        samples.push({ duckorch: { ms: d.ms, maxRssMb: d.maxRssMb }, graphile: { ms: g.ms, maxRssMb: g.maxRssMb }, ratio: d.ms / g.ms });
        log(
          `  -c ${c} pair ${i + 1} (${i % 2 === 0 ? 'graphile first' : 'duck-orch first'}): duck-orch ${fmtMs(d.ms)} ${fmtMb(d.maxRssMb)}, ` +
            `graphile-worker ${fmtMs(g.ms)} ${fmtMb(g.maxRssMb)}, ratio ${(d.ms / g.ms).toFixed(3)}`,
        );
      } finally {
        for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
        await dropSchemas([schema, gwSchema]);
      }
    }
    const d = summary(samples.map((s) => s.duckorch.ms));
    const g = summary(samples.map((s) => s.graphile.ms));
    const dRss = summary(samples.map((s) => s.duckorch.maxRssMb));
    const gRss = summary(samples.map((s) => s.graphile.maxRssMb));
    const ratio = summary(samples.map((s) => s.ratio));
    const dJps = perSecond(jobs, d.median);
    data.byConcurrency[c] = {
      duckorchMs: d,
      graphileMs: g,
      duckorchJobsPerSecond: dJps,
      graphileJobsPerSecond: perSecond(jobs, g.median),
      duckorchRssMb: dRss,
      graphileRssMb: gRss,
      ratio,
      samples,
    };
    const notes = [`jobs/s from spawn to exit; time ratio < 1: duck-orch faster`];
    if (!pg && c === 4)
      notes.push(
        `target ≥ 4,000 jobs/s: ${dJps >= 4000 ? 'met' : 'missed'}; under 200 MB: ${dRss.median < 200 ? 'met' : 'missed'}` +
          (jobs === 20_000 ? '' : ` (the target is at 20,000 queued)`),
      );
    rows.push([
      `drain ${fmtN(jobs)} queued one-job runs: --dag drain worker --once -c ${c}, ledger ${pg ? 'on PostgreSQL' : 'in DuckDB'}`,
      `${samples.length} pair${samples.length === 1 ? '' : 's'}`,
      `${fmtMs(d.median)} (${fmtN(dJps)} jobs/s)`,
      `graphile-worker --once --jobs ${c}: ${fmtMs(g.median)} (${fmtN(perSecond(jobs, g.median))} jobs/s)`,
      fmtRatio(ratio),
      `${fmtMb(dRss.median)} / graphile ${fmtMb(gRss.median)}`,
      notes.join('; '),
    ]);
  }
  const e = summary(enqueued);
  data.enqueueMs = e;
  rows.push([
    `drain ${fmtN(jobs)}, ledger ${pg ? 'on PostgreSQL' : 'in DuckDB'}: set-up, enqueue one run at a time (not timed in the drain)`,
    `${e.n} queue${e.n === 1 ? '' : 's'}`,
    `${fmtMs(e.median)} (${fmtN(perSecond(jobs, e.median))} runs/s)`,
    '—',
    '—',
    '—',
    'Project.enqueue in a loop, one process (bench/drain-setup.mjs); graphile-worker adds its jobs with addJobs',
  ]);
  return { data, rows };
}

/**
 * `worker-startup`: a worker on an empty queue, from spawn to exit, against graphile-worker's
 * CLI doing the same (`--once`, its defaults), in rounds whose order rotates: `duck-orch worker
 * --once` (the registry's worker, the ledger on PostgreSQL migrated as `init-db` does), in a
 * folder where no database was registered and beside a registered one (which it opens, holding
 * the database's lease), and `duck-orch --dag drain worker --once` (which loads the DAG's module).
 */
export async function workerStartupCase({ mkWork, knobs, log }) {
  const work = mkWork('worker-startup');
  const schema = freshSchema('wstart');
  const gwSchema = freshSchema('wstart_gw');
  const db = path.join(work, 'project.duckdb');
  try {
    duckorchQueue(work, db, drainModule(path.join(work, 'dag')), 0, schema);
    graphileQueue(work, gwSchema, 0);
    // A registered database: one SQL task, its file beside the worker.
    const registered = path.join(work, 'registered.duckdb');
    fs.mkdirSync(path.join(work, 'tasks'), { recursive: true });
    fs.writeFileSync(path.join(work, 'tasks', 'one.sql'), 'CREATE OR REPLACE TABLE one AS SELECT 1 AS x;\n');
    expectOk(
      runCli(work, ['--db', registered, 'register', path.join(work, 'tasks')], {
        env: { DATABASE_URL: PG_URL, DUCKORCH_PG_SCHEMA: schema },
      }),
      'register',
    );
    const sides = [
      { key: 'graphile', run: () => graphileWorker(work, gwSchema) },
      {
        key: 'worker',
        label: 'duck-orch worker --once, no database registered',
        run: () => duckorchWorker(work, db, schema, ['worker', '--once']),
      },
      {
        key: 'workerDb',
        label: 'duck-orch worker --once beside a registered database',
        run: () => duckorchWorker(work, registered, schema, ['worker', '--once']),
      },
      {
        key: 'dagWorker',
        label: 'duck-orch --dag drain worker --once',
        run: () => duckorchWorker(work, db, schema, ['--dag', 'drain', 'worker', '--once']),
      },
    ];
    const samples = Object.fromEntries(sides.map((s) => [s.key, []]));
    const ratios = { worker: [], workerDb: [], dagWorker: [] };
    for (let round = 0; round < knobs.BENCH_WORKER_STARTUP_PAIRS; round++) {
      const k = round % sides.length;
      const got = {};
      for (const s of [...sides.slice(k), ...sides.slice(0, k)]) got[s.key] = s.run();
      for (const s of sides) samples[s.key].push({ ms: got[s.key].ms, maxRssMb: got[s.key].maxRssMb });
      for (const key of Object.keys(ratios)) ratios[key].push(got[key].ms / got.graphile.ms);
      log(`  round ${round + 1}: ${sides.map((s) => `${s.key} ${fmtMs(got[s.key].ms)}`).join(', ')}`);
    }
    const stat = (key) => ({
      ms: summary(samples[key].map((s) => s.ms)),
      maxRssMb: summary(samples[key].map((s) => s.maxRssMb)),
      ...(ratios[key] ? { ratio: summary(ratios[key]) } : {}),
      samples: samples[key],
    });
    const data = Object.fromEntries(sides.map((s) => [s.key, stat(s.key)]));
    const g = data.graphile;
    const rows = sides.slice(1).map((s) => {
      const v = data[s.key];
      return [
        `${s.label} on an empty queue, ledger on PostgreSQL (whole process)`,
        `${v.ms.n} rounds`,
        `${fmtMs(v.ms.median)}, p90 ${fmtMs(v.ms.p90)}`,
        `graphile-worker --once: ${fmtMs(g.ms.median)}, p90 ${fmtMs(g.ms.p90)}`,
        fmtRatio(v.ratio),
        `${fmtMb(v.maxRssMb.median)} / graphile ${fmtMb(g.maxRssMb.median)}`,
        `from spawn to exit; target ≤ 2×: ${v.ratio.median <= 2 ? 'met' : 'missed'}`,
      ];
    });
    return { data, rows };
  } finally {
    await dropSchemas([schema, gwSchema]);
  }
}

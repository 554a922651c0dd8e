// npm run bench: every case, or those whose name starts with one of the arguments
// (node bench/run.mjs trivial chain-1000). See bench/README.md for the methodology and the knobs.
// Every measured thing runs in a child process of its own, so the peak RSS beside it is its own.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  BENCH_DIR,
  CLI,
  ROOT,
  alternate,
  describeExit,
  expectOk,
  fmtMb,
  fmtMs,
  fmtN,
  fmtRatio,
  runCli,
  runNode,
  runScript,
  setChildTimeout,
  setChildTmp,
  summary,
  tail,
} from './lib.mjs';
import {
  CHAIN_ROWS,
  chainFile,
  chainName,
  chainTaskSql,
  chainedProject,
  historyProject,
  noopModule,
  registrationCorpus,
  scaledShop,
  trivialDag,
} from './workloads.mjs';
import { PG_URL, backlogCase, dropSchemas, fanoutCase, freshSchema, latencyCase, recoveryCase } from './pg-cases.mjs';
import { drainCase, workerStartupCase } from './drain-cases.mjs';
import { enqueueManyCase } from './enqueue-cases.mjs';
import { automationCase, backfillCase, backfillEnqueueCase, backfillMemoryCase, partitionStatusCase, planCase } from './asset-cases.mjs';
import { buildRef } from './baseline-ref.mjs';

// Options (the other arguments are case-name prefixes):
//   --smoke          every case at a tiny size (BENCH_SMOKE=1 too): that it runs, not what it measures;
//                    writes no results unless --results names a file
//   --list           print the cases that would run, one JSON line each ({ name, postgres }), and exit
//   --no-pg          leave out the cases that need PostgreSQL
//   --results <file> where to write the samples (default bench/results.json; with --smoke, nowhere)
//   --shard <k>/<n>  only every n-th of the chosen cases, from the k-th (1-based): a smoke run in
//                    n processes at once (measurements want the machine to themselves)
const argv = process.argv.slice(2);
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i >= 0) argv.splice(i, 1);
  return i >= 0;
};
const option = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  if (!argv[i + 1] || argv[i + 1].startsWith('--')) throw new Error(`${name} needs a value`);
  return argv.splice(i, 2)[1];
};
const SMOKE = flag('--smoke') || process.env.BENCH_SMOKE === '1';
const LIST = flag('--list');
const NO_PG = flag('--no-pg');
const resultsOption = option('--results');
const RESULTS = resultsOption ? path.resolve(resultsOption) : SMOKE ? null : path.join(ROOT, 'bench/results.json');
const SHARD = (() => {
  const text = option('--shard');
  if (text === undefined) return null;
  const [k, n] = text.split('/').map(Number);
  if (!(Number.isInteger(k) && Number.isInteger(n) && k >= 1 && k <= n))
    throw new Error(`--shard must be <k>/<n> with 1 ≤ k ≤ n, got ${text}`);
  return { k, n };
})();
{
  const unknown = argv.find((a) => a.startsWith('--'));
  if (unknown) throw new Error(`unknown option ${unknown} (options: --smoke, --list, --no-pg, --results <file>, --shard <k>/<n>)`);
}

const env = process.env;
/** A knob's value: the variable when set, else its default (`smoke`'s under --smoke). */
const num = (key, dflt, smoke = dflt) => {
  const v = env[key] === undefined || env[key] === '' ? (SMOKE ? smoke : dflt) : Number(env[key]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${key} must be a number, got ${env[key]}`);
  return v;
};
const list = (key, dflt, smoke = dflt) => {
  const v = (env[key] || (SMOKE ? smoke : dflt)).split(',').map(Number);
  if (v.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`${key} must be a comma-separated list of whole numbers, got ${env[key]}`);
  return v;
};
const KNOBS = {
  BENCH_PAIRS: num('BENCH_PAIRS', 5, 1),
  BENCH_PARALLEL: num('BENCH_PARALLEL', 4),
  BENCH_TRIVIAL_TASKS: num('BENCH_TRIVIAL_TASKS', 1000, 20),
  BENCH_FN_JOBS: num('BENCH_FN_JOBS', 1000, 20),
  BENCH_SHOP_FACTOR: num('BENCH_SHOP_FACTOR', 400, 1),
  BENCH_REGISTER_FILES: num('BENCH_REGISTER_FILES', 1000, 20),
  BENCH_REGISTER_REPEATS: num('BENCH_REGISTER_REPEATS', 5, 1),
  BENCH_CHAIN_SIZES: list('BENCH_CHAIN_SIZES', '1000,19000', '30'),
  BENCH_CHAIN_REPEATS: num('BENCH_CHAIN_REPEATS', 3, 1),
  BENCH_CHAIN_BIG: num('BENCH_CHAIN_BIG', 5000),
  BENCH_BASELINE_REF: env.BENCH_BASELINE_REF || null,
  BENCH_ULIMIT: num('BENCH_ULIMIT', 256),
  BENCH_STARTUP_REPEATS: num('BENCH_STARTUP_REPEATS', 17, 1),
  BENCH_TIMEOUT_S: num('BENCH_TIMEOUT_S', 1800, 300),
  BENCH_HISTORY_TASKS: num('BENCH_HISTORY_TASKS', 100, 3),
  BENCH_HISTORY_PARTITIONS: num('BENCH_HISTORY_PARTITIONS', 10000, 10),
  BENCH_HISTORY_REPEATS: num('BENCH_HISTORY_REPEATS', 25, 1),
  BENCH_HISTORY_STATUS_PAIRS: num('BENCH_HISTORY_STATUS_PAIRS', 9, 1),
  BENCH_LATENCY_SAMPLES: num('BENCH_LATENCY_SAMPLES', 200, 3),
  BENCH_BACKLOG_JOBS: num('BENCH_BACKLOG_JOBS', 200_000, 50),
  BENCH_FANOUT: num('BENCH_FANOUT', 10_000, 10),
  BENCH_FANOUT_REPEATS: num('BENCH_FANOUT_REPEATS', 3, 1),
  BENCH_RECOVERY_LEASE_S: num('BENCH_RECOVERY_LEASE_S', 5, 1),
  BENCH_RECOVERY_ROUNDS: num('BENCH_RECOVERY_ROUNDS', 3, 1),
  BENCH_DRAIN_JOBS: num('BENCH_DRAIN_JOBS', 20_000, 20),
  BENCH_ENQUEUE_RUNS: num('BENCH_ENQUEUE_RUNS', 20_000, 20),
  BENCH_ENQUEUE_REPEATS: num('BENCH_ENQUEUE_REPEATS', 3, 1),
  BENCH_DRAIN_CONCURRENCY: list('BENCH_DRAIN_CONCURRENCY', '1,4,16', '2'),
  BENCH_DRAIN_DUCKDB_CONCURRENCY: list('BENCH_DRAIN_DUCKDB_CONCURRENCY', '1,4', '2'),
  BENCH_WORKER_STARTUP_PAIRS: num('BENCH_WORKER_STARTUP_PAIRS', 9, 1),
  BENCH_BACKFILL_ROWS: num('BENCH_BACKFILL_ROWS', 10_000_000, 3650),
  BENCH_BACKFILL_PLAN: num('BENCH_BACKFILL_PLAN', 10_000, 20),
  BENCH_BACKFILL_MEMORY: num('BENCH_BACKFILL_MEMORY', 20_000, 30),
  BENCH_STATUS_DAYS: num('BENCH_STATUS_DAYS', 3650, 30),
  BENCH_STATUS_HOURS: num('BENCH_STATUS_HOURS', 876_000, 100),
  BENCH_STATUS_REPEATS: num('BENCH_STATUS_REPEATS', 15, 2),
  BENCH_PLAN_TASKS: num('BENCH_PLAN_TASKS', 10_000, 30),
};
if (KNOBS.BENCH_HISTORY_TASKS < 1 || KNOBS.BENCH_HISTORY_TASKS > 1000 || KNOBS.BENCH_HISTORY_PARTITIONS < 1)
  throw new Error('BENCH_HISTORY_TASKS must be 1–1000 and BENCH_HISTORY_PARTITIONS at least 1');
if (KNOBS.BENCH_CHAIN_SIZES.some((n) => n < 2)) throw new Error(`BENCH_CHAIN_SIZES: ${env.BENCH_CHAIN_SIZES}`);
setChildTimeout(KNOBS.BENCH_TIMEOUT_S);
const P = KNOBS.BENCH_PARALLEL;

// ---- work directories, all removed at the end (or on Ctrl-C) ----
const works = new Set();
function mkWork(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `duckorch-bench-${name}-`));
  works.add(dir);
  return dir;
}
const removals = [];
function cleanup() {
  for (const remove of removals.splice(0)) remove();
  for (const dir of works) fs.rmSync(dir, { recursive: true, force: true });
  works.clear();
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
function rmDb(db) {
  for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
}
const log = (text) => process.stderr.write(`${text}\n`);

// ---- paired runs: duck-orch against raw DuckDB on the same statements ----

const workloads = {};
/** Generates a workload once, registers it into a template database and exports its plan. */
function workload(key) {
  if (workloads[key]) return workloads[key];
  const work = mkWork(key);
  const tasks = path.join(work, 'tasks');
  const label =
    key === 'trivial'
      ? (trivialDag(tasks, KNOBS.BENCH_TRIVIAL_TASKS), `${fmtN(KNOBS.BENCH_TRIVIAL_TASKS)} trivial tasks`)
      : (scaledShop(tasks, KNOBS.BENCH_SHOP_FACTOR),
        `example shop ×${KNOBS.BENCH_SHOP_FACTOR} (${fmtN(5000 * KNOBS.BENCH_SHOP_FACTOR)} orders)`);
  const template = path.join(work, 'template.duckdb');
  const plan = path.join(work, 'plan.json');
  const info = runScript(work, 'plan.mjs', [template, plan, tasks]);
  log(`${key}: plan of ${info.tasks} tasks, ${info.statements} statements, ${info.tests} tests, ${info.edges} edges`);
  return (workloads[key] = { key, label, work, template, plan, info });
}

/**
 * The floor under duck-orch's per-task overhead, measured in the same run: raw DuckDB with one
 * transaction, a fresh connection and one record row per task (`raw.mjs seq-atomic`) against
 * raw autocommit on one connection. duck-orch's overhead beyond the floor is trivial-seq's minus this.
 */
function floorCase(key) {
  const w = workload(key);
  const rawRun = (mode) => (i) => {
    const db = path.join(w.work, `floor-${mode}-${i}.duckdb`);
    rmDb(db);
    try {
      return runScript(w.work, 'raw.mjs', [w.plan, db, mode]);
    } finally {
      rmDb(db);
    }
  };
  const tasks = w.info.tasks;
  const samples = alternate(KNOBS.BENCH_PAIRS, rawRun('seq'), rawRun('seq-atomic')).map(({ a, b }) => ({
    raw: a,
    atomic: b,
    ratio: b.ms / a.ms,
  }));
  for (const s of samples) if (s.raw.rows !== s.atomic.rows) throw new Error(`rows differ: raw ${s.raw.rows}, atomic ${s.atomic.rows}`);
  const ratio = summary(samples.map((s) => s.ratio));
  const overhead = summary(samples.map((s) => (s.atomic.ms - s.raw.ms) / tasks));
  const a = summary(samples.map((s) => s.atomic.ms));
  const r = summary(samples.map((s) => s.raw.ms));
  return {
    data: { tasks, ratio, overheadMsPerTask: overhead, atomicMs: a, rawMs: r, samples },
    rows: [
      [
        `${w.label}: DuckDB's floor (transaction + record row per task, no duck-orch)`,
        `${samples.length} pair${samples.length === 1 ? '' : 's'}`,
        `${fmtMs(a.median)} (${(a.median / tasks).toFixed(2)} ms/task)`,
        `raw, 1 connection: ${fmtMs(r.median)} (${(r.median / tasks).toFixed(2)} ms/task)`,
        fmtRatio(ratio),
        `${fmtMb(summary(samples.map((s) => s.atomic.maxRssMb)).median)} / raw ${fmtMb(summary(samples.map((s) => s.raw.maxRssMb)).median)}`,
        `floor ${overhead.median.toFixed(2)} ms/task [${overhead.min.toFixed(2)}–${overhead.max.toFixed(2)}]`,
      ],
    ],
  };
}

function pairedCase(key, parallel) {
  const w = workload(key);
  const rawMode = parallel === 1 ? 'seq' : String(parallel);
  const raw = (i) => {
    const db = path.join(w.work, `raw-${i}.duckdb`);
    rmDb(db);
    try {
      return runScript(w.work, 'raw.mjs', [w.plan, db, rawMode]);
    } finally {
      rmDb(db);
    }
  };
  const duck = (i) => {
    const db = path.join(w.work, `duckorch-${i}.duckdb`);
    rmDb(db);
    fs.copyFileSync(w.template, db);
    try {
      return runScript(w.work, 'duckorch-run.mjs', [db, String(parallel)]);
    } finally {
      rmDb(db);
    }
  };
  const samples = alternate(KNOBS.BENCH_PAIRS, raw, duck).map(({ a, b, first }, i) => {
    log(
      `  pair ${i + 1} (${first === 'a' ? 'raw first' : 'duck-orch first'}): raw ${fmtMs(a.ms)} ${fmtMb(a.maxRssMb)}, ` +
        `duck-orch ${fmtMs(b.ms)} ${fmtMb(b.maxRssMb)}, ratio ${(b.ms / a.ms).toFixed(3)}`,
    );
    return { raw: a, duckorch: b, first, ratio: b.ms / a.ms };
  });
  // Sanity: every run did all the work, and both sides changed the same number of rows.
  const tasks = w.info.tasks;
  for (const s of samples) {
    if (s.duckorch.tasks !== tasks || s.duckorch.succeeded !== tasks)
      throw new Error(`duck-orch ran ${s.duckorch.succeeded}/${s.duckorch.tasks} of ${tasks} tasks`);
    if (s.raw.tasks !== tasks || s.raw.statements !== w.info.statements)
      throw new Error(`raw ran ${s.raw.statements} of ${w.info.statements} statements`);
    if (s.raw.rows !== s.duckorch.rows) throw new Error(`rows differ: raw ${s.raw.rows}, duck-orch ${s.duckorch.rows}`);
  }
  const ratio = summary(samples.map((s) => s.ratio));
  const overhead = summary(samples.map((s) => (s.duckorch.ms - s.raw.ms) / tasks));
  const d = summary(samples.map((s) => s.duckorch.ms));
  const r = summary(samples.map((s) => s.raw.ms));
  const dRss = summary(samples.map((s) => s.duckorch.maxRssMb));
  const rRss = summary(samples.map((s) => s.raw.maxRssMb));
  const conflicts = samples.reduce((n, s) => n + s.raw.conflicts, 0);
  const perTask = (ms) => (tasks >= 100 ? ` (${(ms / tasks).toFixed(2)} ms/task)` : '');
  const baseline = parallel === 1 ? 'raw, 1 connection' : `raw, ${parallel} connections`;
  const notes = [];
  if (tasks >= 100) notes.push(`overhead ${overhead.median.toFixed(2)} ms/task [${overhead.min.toFixed(2)}–${overhead.max.toFixed(2)}]`);
  notes.push(`rows ${fmtN(samples[0].raw.rows)} both sides`);
  if (conflicts) notes.push(`raw conflicts retried: ${conflicts}`);
  return {
    data: {
      tasks,
      rows: samples[0].raw.rows,
      ratio,
      overheadMsPerTask: overhead,
      duckorchMs: d,
      rawMs: r,
      duckorchRssMb: dRss,
      rawRssMb: rRss,
      samples,
    },
    rows: [
      [
        `${w.label}, ${parallel === 1 ? 'sequential' : `${parallel} parallel`}`,
        `${samples.length} pair${samples.length === 1 ? '' : 's'}`,
        `${fmtMs(d.median)}${perTask(d.median)}`,
        `${baseline}: ${fmtMs(r.median)}${perTask(r.median)}`,
        fmtRatio(ratio),
        `${fmtMb(dRss.median)} / raw ${fmtMb(rRss.median)}`,
        notes.join('; '),
      ],
    ],
  };
}

// ---- register: 1,000 realistic files, in-process ----

function registerCase() {
  const work = mkWork('register');
  const tasks = registrationCorpus(path.join(work, 'tasks'), KNOBS.BENCH_REGISTER_FILES);
  const samples = [];
  for (let i = 0; i < KNOBS.BENCH_REGISTER_REPEATS; i++) {
    const db = path.join(work, `db-${i}.duckdb`);
    const r = runScript(work, 'register-case.mjs', [tasks, db]);
    rmDb(db);
    if (r.files !== KNOBS.BENCH_REGISTER_FILES || r.tasks !== r.files) throw new Error(`registered ${r.tasks} tasks of ${r.files} files`);
    log(`  repeat ${i + 1}: ${fmtMs(r.ms)}, ${fmtMb(r.maxRssMb)}`);
    samples.push(r);
  }
  const ms = summary(samples.map((s) => s.ms));
  const rss = summary(samples.map((s) => s.maxRssMb));
  const files = samples[0].files;
  return {
    data: { files, ms, maxRssMb: rss, samples },
    rows: [
      [
        `register ${fmtN(files)} realistic files (library API, new db)`,
        `${samples.length} runs`,
        `${fmtMs(ms.median)} [${fmtMs(ms.min)}–${fmtMs(ms.max)}]`,
        '—',
        `${fmtN(Math.round((files / ms.median) * 1000))} files/s`,
        fmtMb(rss.median),
        'target > 1,000 files/s',
      ],
    ],
  };
}

// ---- chained projects at scale, whole-process CLI commands ----

async function query(db, sql) {
  const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  try {
    const conn = await instance.connect();
    const rows = (await conn.runAndReadAll(sql)).getRows();
    conn.closeSync();
    return rows;
  } finally {
    instance.closeSync();
  }
}

/** Checks what the CLI registered: `n` tasks, and (after a change) the new SQL of one of them. */
async function verifyRegistered(db, n, change) {
  const [[count]] = await query(db, 'SELECT count(*) FROM __orch__.tasks');
  if (Number(count) !== n) throw new Error(`${count} tasks registered, expected ${n}`);
  if (change) {
    const [[sql]] = await query(db, `SELECT sql FROM __orch__.tasks WHERE name = '${change.task}'`);
    if (!String(sql).includes(change.sqlIncludes)) throw new Error(`task ${change.task} was not re-registered with its new SQL`);
  }
}

/** Checks that the CLI's last run really ran every task, and what it wrote. */
async function verifyChainRun(db, n) {
  const [[status, taskCount, succeeded, successRuns, rows]] = await query(
    db,
    `SELECT p.state, p.task_count, CAST(p.job_counts_json::JSON ->> 'succeeded' AS INTEGER),
            (SELECT count(*) FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id AND r.status = 'success'),
            (SELECT sum(rows_count) FROM __orch__.runs r WHERE r.pipeline_run_id = p.pipeline_run_id)
     FROM __orch__.pipeline_runs p ORDER BY p.created_at DESC LIMIT 1`,
  );
  const [[tables]] = await query(db, `SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'chain'`);
  const problems = [];
  if (status !== 'succeeded') problems.push(`state ${status}`);
  if (Number(taskCount) !== n || Number(succeeded) !== n || Number(successRuns) !== n)
    problems.push(`${succeeded}/${taskCount} succeeded, ${successRuns} success records`);
  if (Number(rows) !== n * CHAIN_ROWS) problems.push(`${rows} rows, expected ${n * CHAIN_ROWS}`);
  if (Number(tables) !== n) problems.push(`${tables} tables in schema chain`);
  if (problems.length) throw new Error(`chain run of ${n} tasks: ${problems.join('; ')}`);
  return { rows: Number(rows) };
}

/**
 * What a chain run left, read through `__orch__.runs` (a view every version of the schema has, so
 * it also checks a BENCH_BASELINE_REF build's run): `n` successes, 10 rows each, `n` tables.
 */
async function verifyChainTables(db, n) {
  const [[successes, rows]] = await query(db, `SELECT count(*) FILTER (WHERE status = 'success'), sum(rows_count) FROM __orch__.runs`);
  const [[tables]] = await query(db, `SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'chain'`);
  if (Number(successes) !== n || Number(rows) !== n * CHAIN_ROWS || Number(tables) !== n)
    throw new Error(`chain run of ${n} tasks: ${successes} successes, ${rows} rows, ${tables} tables in schema chain`);
}

/** The BENCH_BASELINE_REF build, built once per driver run (the first chain case builds it). */
let refBuild;
function baselineRef() {
  if (!KNOBS.BENCH_BASELINE_REF) return null;
  if (!refBuild) {
    refBuild = buildRef(KNOBS.BENCH_BASELINE_REF, mkWork('baseline-ref'), log);
    removals.push(refBuild.remove);
  }
  return refBuild;
}

async function chainCase(n) {
  const work = mkWork(`chain-${n}`);
  const dir = path.join(work, 'tasks');
  const { upstreamOf } = chainedProject(dir, n);
  const edges = upstreamOf.reduce((s, u) => s + u.length, 0);
  const repeats = n >= KNOBS.BENCH_CHAIN_BIG ? 1 : KNOBS.BENCH_CHAIN_REPEATS;
  log(`  ${fmtN(n)} files in ${Math.ceil(n / 100)} folders, ${fmtN(edges)} edges; ${repeats} repeat${repeats === 1 ? '' : 's'}`);
  // Not chain.duckdb: the database's catalog would clash with the schema chain.
  const db = path.join(work, 'project.duckdb');
  const rawDb = path.join(work, 'baseline.duckdb');
  const plan = path.join(work, 'plan.json');
  const cli = (args, options) => runCli(work, ['--db', db, ...args], options);
  const steps = { register: [], run: [], raw: [], refRun: [], status: [], dag: [], dagNoStatus: [], floor: [], reregister: [] };
  const ref = baselineRef();
  const refDb = path.join(work, 'baseline-ref.duckdb');
  const changed = Math.floor(n / 2);
  const record = (step, r, extra = {}) => {
    steps[step].push({ ms: r.ms ?? r.wallMs, maxRssMb: r.maxRssMb, ...extra });
    log(`  ${step}: ${fmtMs(r.ms ?? r.wallMs)} (${((r.ms ?? r.wallMs) / n).toFixed(3)} ms/task), ${fmtMb(r.maxRssMb)}`);
  };

  for (let rep = 0; rep < repeats; rep++) {
    rmDb(db);
    const reg = expectOk(cli(['register', dir]), 'register');
    await verifyRegistered(db, n);
    record('register', reg);
    if (rep === 0) {
      const p = runScript(work, 'plan.mjs', [db, plan]);
      if (p.tasks !== n || p.edges !== edges)
        throw new Error(`plan has ${p.tasks} tasks and ${p.edges} edges; generated ${n} and ${edges}`);
    }
    // `run` (default parallelism) paired with the raw baseline on as many connections, each a whole process.
    const runRaw = () => {
      rmDb(rawDb);
      try {
        const r = runScript(work, 'raw.mjs', [plan, rawDb, String(P)]);
        if (r.tasks !== n || r.rows !== n * CHAIN_ROWS) throw new Error(`raw ran ${r.tasks} tasks, ${r.rows} rows`);
        return r;
      } finally {
        rmDb(rawDb);
      }
    };
    const runDuck = () => {
      const r = cli(['run']);
      if (r.code !== 0)
        r.stderr +=
          '\n' +
          r.stdout
            .split('\n')
            .filter((l) => / failed /.test(l) && !/skipped/.test(l))
            .join('\n');
      return expectOk(r, 'run');
    };
    // The same project's `run` by the BENCH_BASELINE_REF build, on a database that build registered (not timed).
    const runRef = async () => {
      rmDb(refDb);
      expectOk(runNode(work, [ref.cli, '--db', refDb, 'register', dir]), `register by ${ref.ref}`);
      const r = expectOk(runNode(work, [ref.cli, '--db', refDb, 'run']), `run by ${ref.ref}`);
      await verifyChainTables(refDb, n);
      rmDb(refDb);
      return r;
    };
    // raw, duck-orch, ref — then ref, duck-orch, raw: each pair with duck-orch flips its order.
    let raw, run, refRun;
    if (rep % 2 === 0) {
      raw = runRaw();
      run = runDuck();
      if (ref) refRun = await runRef();
    } else {
      log('  (duck-orch runs first in this pair)');
      if (ref) refRun = await runRef();
      run = runDuck();
      raw = runRaw();
    }
    // `Run 380a56b1 succeeded: 1000 succeeded in 1.9s` (older builds: `success: … in …`).
    const inRun = /(?:success|succeeded): .* in ([\d.]+)(ms|s)\s*$/m.exec(run.stdout);
    await verifyChainRun(db, n);
    record('run', run, { ratio: run.ms / raw.wallMs, reportedRunMs: inRun ? Number(inRun[1]) * (inRun[2] === 's' ? 1000 : 1) : null });
    record('raw', { ms: raw.wallMs, maxRssMb: raw.maxRssMb }, { inProcessMs: raw.ms, closeMs: raw.closeMs, conflicts: raw.conflicts });
    if (refRun) record('refRun', refRun, { ratio: run.ms / refRun.ms, rssRatio: run.maxRssMb / refRun.maxRssMb });

    // The read commands, each paired with the floor under any command on this database (Node, DuckDB,
    // open, one query, close), which of the two goes first alternating with the repeat.
    const withFloor = (step, command) => {
      const floor = () => {
        const f = runScript(work, 'db-floor.mjs', [db]);
        if (f.rows !== Math.min(50, n)) throw new Error(`db-floor read ${f.rows} runs`);
        return f;
      };
      let f, r;
      if (rep % 2 === 0) {
        f = floor();
        r = command();
      } else {
        r = command();
        f = floor();
      }
      steps.floor.push({ ms: f.wallMs, maxRssMb: f.maxRssMb });
      return { r, ratio: r.ms / f.wallMs };
    };
    {
      const { r: status, ratio } = withFloor('status', () => expectOk(cli(['status']), 'status'));
      if (!status.stdout.includes('succeeded')) throw new Error(`status shows no successful run:\n${tail(status.stdout)}`);
      record('status', status, { ratio });
    }
    for (const [step, args] of [
      ['dag', ['graph', 'dag']],
      ['dagNoStatus', ['graph', 'dag', '--no-status']],
    ]) {
      const { r: g, ratio } = withFloor(step, () => expectOk(cli(args), args.join(' ')));
      const nodes = (g.stdout.match(/^\s+\S+\["/gm) ?? []).length;
      const arrows = (g.stdout.match(/ --> /g) ?? []).length;
      if (!g.stdout.startsWith('graph LR') || nodes !== n || arrows !== edges)
        throw new Error(`${args.join(' ')}: ${nodes} nodes and ${arrows} edges drawn, expected ${n} and ${edges}`);
      const styled = /^\s*class \S+ success$/m.test(g.stdout);
      if (styled !== (step === 'dag')) throw new Error(`${args.join(' ')}: run-status styling ${styled ? 'present' : 'missing'}`);
      record(step, g, { bytes: g.stdout.length, nodes, ratio });
    }
    // Re-register after changing one file's SQL.
    const file = path.join(dir, chainFile(changed));
    fs.writeFileSync(file, chainTaskSql(changed, upstreamOf[changed], 997));
    const rereg = expectOk(cli(['register', dir]), 're-register');
    fs.writeFileSync(file, chainTaskSql(changed, upstreamOf[changed]));
    await verifyRegistered(db, n, { task: chainName(changed), sqlIncludes: '% 997' });
    // The summary line, while it reads as today: exactly one task changed.
    const summaryLine = /\((\d+) added, (\d+) changed/.exec(rereg.stdout);
    if (summaryLine && (summaryLine[1] !== '0' || summaryLine[2] !== '1')) throw new Error(`re-register said: ${summaryLine[0]}`);
    record('reregister', rereg);
    rmDb(db);
  }

  // Register into a new database under a low open-file limit: report the outcome, whatever it is.
  rmDb(db);
  const lim = cli(['register', dir], { ulimit: KNOBS.BENCH_ULIMIT });
  let limProblem = null;
  if (lim.code === 0)
    limProblem = await verifyRegistered(db, n).then(
      () => null,
      (err) => err.message,
    );
  const emfile = lim.stderr.split('\n').filter((l) => /EMFILE|too many open files/i.test(l)).length;
  const ulimit = {
    ok: lim.code === 0 && limProblem === null,
    ms: lim.ms,
    maxRssMb: lim.maxRssMb,
    exit: describeExit(lim),
    emfileErrors: emfile,
    firstError: lim.code === 0 ? limProblem : (lim.stderr.split('\n').find((l) => l.trim()) ?? '').slice(0, 200),
  };
  log(
    `  register under ulimit -n ${KNOBS.BENCH_ULIMIT}: ${ulimit.ok ? 'ok' : `FAILED (${ulimit.exit}, ${emfile} EMFILE error lines)`} in ${fmtMs(lim.ms)}`,
  );
  rmDb(db);

  const s = Object.fromEntries(
    Object.entries(steps).map(([k, v]) => [
      k,
      { ms: summary(v.map((x) => x.ms)), maxRssMb: summary(v.map((x) => x.maxRssMb)), samples: v },
    ]),
  );
  const runRatio = summary(steps.run.map((x) => x.ratio));
  const label = `chain ${fmtN(n)}`;
  const reps = repeats === 1 ? '1 run' : `${repeats} runs`;
  const cell = (k) => `${fmtMs(s[k].ms.median)} (${(s[k].ms.median / n).toFixed(2)} ms/task)`;
  const rows = [
    [`${label}: register (new db)`, reps, cell('register'), '—', '—', fmtMb(s.register.maxRssMb.median), ''],
    [
      `${label}: run (default -p ${P})`,
      repeats === 1 ? '1 pair' : `${repeats} pairs`,
      cell('run'),
      `raw, ${P} connections: ${cell('raw')}`,
      fmtRatio(runRatio),
      `${fmtMb(s.run.maxRssMb.median)} / raw ${fmtMb(s.raw.maxRssMb.median)}`,
      `whole processes; the run itself ${fmtMs(median0(steps.run.map((x) => x.reportedRunMs)))} (as the CLI reports it), raw ${fmtMs(median0(steps.raw.map((x) => x.inProcessMs)))} + closing (checkpoint) ${fmtMs(median0(steps.raw.map((x) => x.closeMs)))}`,
    ],
    ...(ref
      ? [
          [
            `${label}: run (default -p ${P}) against ${ref.ref}`,
            repeats === 1 ? '1 pair' : `${repeats} pairs`,
            cell('run'),
            `${ref.commit.startsWith(ref.ref) ? ref.ref : `${ref.ref} (${ref.commit.slice(0, 7)})`} run: ${cell('refRun')}`,
            fmtRatio(summary(steps.refRun.map((x) => x.ratio))),
            `${fmtMb(s.run.maxRssMb.median)} / ${ref.ref} ${fmtMb(s.refRun.maxRssMb.median)}`,
            `whole processes, each build on a database it registered itself (not timed); peak RSS ratio ${fmtRatio(summary(steps.refRun.map((x) => x.rssRatio)))}`,
          ],
        ]
      : []),
    ...[
      ['status', 'status', ''],
      ['dag', 'graph dag', 'coloured by the run'],
      ['dagNoStatus', 'graph dag --no-status', ''],
    ].map(([k, what, note]) => [
      `${label}: ${what}`,
      repeats === 1 ? '1 pair' : `${repeats} pairs`,
      cell(k),
      `db floor: ${fmtMs(s.floor.ms.median)}`,
      fmtRatio(summary(steps[k].map((x) => x.ratio))),
      `${fmtMb(s[k].maxRssMb.median)} / floor ${fmtMb(s.floor.maxRssMb.median)}`,
      note,
    ]),
    [
      `${label}: re-register, 1 file changed`,
      reps,
      fmtMs(s.reregister.ms.median),
      '—',
      '—',
      fmtMb(s.reregister.maxRssMb.median),
      `target < 1 s${n >= 19000 ? (s.reregister.ms.median < 1000 ? ': met' : ': missed') : ' at 19,000'}`,
    ],
    [
      `${label}: register under ulimit -n ${KNOBS.BENCH_ULIMIT}`,
      '1 run',
      ulimit.ok ? `${fmtMs(ulimit.ms)} (${(ulimit.ms / n).toFixed(2)} ms/task)` : 'FAILED',
      '—',
      '—',
      fmtMb(ulimit.maxRssMb),
      ulimit.ok
        ? 'succeeded'
        : ulimit.emfileErrors > 0
          ? `${ulimit.exit}; ${fmtN(ulimit.emfileErrors)} of ${fmtN(n)} files could not be read (EMFILE, too many open files)`
          : `${ulimit.exit}: ${String(ulimit.firstError).slice(0, 100)}`,
    ],
  ];
  const baseline = ref
    ? {
        ref: ref.ref,
        commit: ref.commit,
        install: ref.install,
        timeRatio: summary(steps.refRun.map((x) => x.ratio)),
        rssRatio: summary(steps.refRun.map((x) => x.rssRatio)),
      }
    : null;
  return { data: { tasks: n, edges, repeats, folders: Math.ceil(n / 100), ...s, runRatio, ulimit, baselineRef: baseline }, rows };
}

function median0(xs) {
  return summary(xs.filter((x) => x !== null && x !== undefined)).median;
}

// ---- fn-noop: no-op function tasks, jobs per second, against graphile-worker on PostgreSQL ----

/**
 * duck-orch's side of `fn-noop`: `BENCH_FN_JOBS` no-op TypeScript function tasks (one module, a
 * `Dag` of independent tasks: `noopModule` in workloads.mjs) run by duck-orch with `concurrency`
 * in parallel, in a process of its own (bench/duckorch-run.mjs, as the paired SQL cases), on a
 * copy of a database the module was registered into before the clock. Returns `{ jobs, ms,
 * maxRssMb }`: `jobs` the tasks that succeeded, `ms` the run itself (`project.run`: enqueueing the
 * run, loading the module, working every job, the ledger's writes), the same span as
 * graphile-worker's (from calling `run` until no job is left, jobs queued before the clock) plus
 * duck-orch's enqueueing, which graphile-worker does before its clock. `pair` is the 0-based
 * pair index (for file names).
 */
const noopTemplates = new Map();
function duckorchNoopRun(work, { jobs, concurrency, pair, ledgerEnv }) {
  let template = noopTemplates.get(jobs);
  if (!template) {
    template = path.join(work, `noop-${jobs}.duckdb`);
    const r = runScript(work, 'register-case.mjs', [noopModule(path.join(work, `noop-${jobs}`), jobs), template]);
    if (r.tasks !== jobs) throw new Error(`registered ${r.tasks} of ${jobs} no-op function tasks`);
    noopTemplates.set(jobs, template);
  }
  const db = path.join(work, `duckorch-noop-${pair}.duckdb`);
  rmDb(db);
  fs.copyFileSync(template, db);
  try {
    const r = runScript(work, 'duckorch-run.mjs', [db, String(concurrency)], ledgerEnv ? { env: ledgerEnv } : undefined);
    if (r.tasks !== jobs) throw new Error(`duck-orch's run planned ${r.tasks} of ${jobs} no-op tasks`);
    return { jobs: r.succeeded, ms: r.ms, closeMs: r.closeMs, wallMs: r.wallMs, maxRssMb: r.maxRssMb };
  } finally {
    rmDb(db);
  }
}

/** graphile-worker's side: bench/graphile-noop.mjs, a process that knows nothing of duck-orch. */
function graphileNoopRun(work, { jobs, concurrency }) {
  const timeoutS = Math.max(60, Math.ceil(jobs / 10));
  const r = runNode(work, [path.join(BENCH_DIR, 'graphile-noop.mjs'), String(concurrency), String(jobs), String(timeoutS)], {
    env: { DATABASE_URL: PG_URL },
  });
  if (r.code !== 0 || r.signal) {
    // The child's reason (e.g. PostgreSQL unreachable) is its last `graphile-noop:` line: the first line of the error.
    const reason = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('graphile-noop: '))
      .at(-1)
      ?.slice('graphile-noop: '.length);
    throw new Error(`graphile-worker baseline: ${reason ?? describeExit(r)}\n${tail(r.stderr)}`);
  }
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (out.jobs !== jobs) throw new Error(`graphile-worker ran ${out.jobs} of ${jobs} jobs`);
  return { ...out, wallMs: r.ms, maxRssMb: r.maxRssMb };
}

/** duck-orch's side on the PostgreSQL ledger: a fresh schema per run on the PostgreSQL graphile-worker uses, dropped after. */
async function duckorchNoopRunPg(work, opts) {
  const schema = freshSchema('dk');
  try {
    return duckorchNoopRun(work, { ...opts, ledgerEnv: { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: schema } });
  } finally {
    await dropSchemas([schema]);
  }
}

async function fnNoopCase(store = 'duckdb') {
  const work = mkWork(store === 'postgres' ? 'fn-noop-pg' : 'fn-noop');
  const duckorchRun = store === 'postgres' ? duckorchNoopRunPg : duckorchNoopRun;
  const jobs = KNOBS.BENCH_FN_JOBS;
  const opts = { jobs, concurrency: P };
  const jps = (ms) => (jobs / ms) * 1000;
  const fmtJps = (ms) => `${fmtN(Math.round(jps(ms)))} jobs/s`;
  // Paired as the other cases are (which side goes first flips every pair); while duck-orch's side
  // is not measured, these are BENCH_PAIRS repeats of graphile-worker.
  const samples = [];
  for (let i = 0; i < KNOBS.BENCH_PAIRS; i++) {
    let g, d;
    if (i % 2 === 0) {
      g = graphileNoopRun(work, opts);
      d = await duckorchRun(work, { ...opts, pair: i });
    } else {
      d = await duckorchRun(work, { ...opts, pair: i });
      g = graphileNoopRun(work, opts);
    }
    if (d && d.jobs !== jobs) throw new Error(`duck-orch ran ${d.jobs} of ${jobs} no-op tasks`);
    const ratio = d ? d.ms / g.ms : null;
    log(
      `  ${d ? `pair ${i + 1} (${i % 2 === 0 ? 'graphile first' : 'duck-orch first'})` : `repeat ${i + 1}`}: ` +
        `graphile-worker ${fmtMs(g.ms)} (${fmtJps(g.ms)}) ${fmtMb(g.maxRssMb)}` +
        (d ? `, duck-orch ${fmtMs(d.ms)} (${fmtJps(d.ms)}) ${fmtMb(d.maxRssMb)}, ratio ${ratio.toFixed(3)}` : ''),
    );
    samples.push({ graphile: g, duckorch: d, first: d === null || i % 2 === 0 ? 'graphile' : 'duckorch', ratio });
  }
  const measured = samples.every((s) => s.duckorch !== null);
  const g = summary(samples.map((s) => s.graphile.ms));
  const gJps = summary(samples.map((s) => jps(s.graphile.ms)));
  const gRss = summary(samples.map((s) => s.graphile.maxRssMb));
  const d = measured ? summary(samples.map((s) => s.duckorch.ms)) : null;
  const dRss = measured ? summary(samples.map((s) => s.duckorch.maxRssMb)) : null;
  const ratio = measured ? summary(samples.map((s) => s.ratio)) : null;
  const { graphileWorker, postgres } = samples[0].graphile;
  const n = samples.length;
  const notes = [
    measured
      ? `time ratio (< 1: duck-orch faster); duck-orch ${fmtN(Math.round(jps(d.median)))} jobs/s`
      : 'duck-orch side not measured yet (function tasks not wired): graphile-worker figures only',
    `graphile-worker ${graphileWorker} on PostgreSQL ${postgres.split(' ')[0]}: ${fmtN(Math.round(gJps.median))} jobs/s [${fmtN(Math.round(gJps.min))}–${fmtN(Math.round(gJps.max))}]`,
  ];
  return {
    data: {
      jobs,
      concurrency: P,
      graphileWorker,
      postgres,
      duckorchMeasured: measured,
      graphileMs: g,
      graphileJobsPerSecond: gJps,
      graphileRssMb: gRss,
      duckorchMs: d,
      duckorchJobsPerSecond: measured ? summary(samples.map((s) => jps(s.duckorch.ms))) : null,
      duckorchRssMb: dRss,
      ratio,
      samples,
    },
    rows: [
      [
        `${fmtN(jobs)} no-op function tasks, ${P} parallel${store === 'postgres' ? ', ledger on PostgreSQL' : ''}`,
        measured ? `${n} pair${n === 1 ? '' : 's'}` : `${n} run${n === 1 ? '' : 's'}`,
        measured ? `${fmtMs(d.median)} (${fmtJps(d.median)})` : 'not measured yet',
        `graphile-worker, ${P} worker${P === 1 ? '' : 's'}: ${fmtMs(g.median)} (${fmtJps(g.median)})`,
        measured ? fmtRatio(ratio) : 'n/a',
        measured ? `${fmtMb(dRss.median)} / graphile ${fmtMb(gRss.median)}` : `— / graphile ${fmtMb(gRss.median)}`,
        notes.join('; '),
      ],
    ],
  };
}

// ---- history: the ledger's reads over 1,000,000 historical task runs ----

/**
 * A registered project of BENCH_HISTORY_TASKS daily-partitioned tasks, its history generated with
 * SQL straight into the ledger tables (history-gen.mjs: one run per partition, BENCH_HISTORY_PARTITIONS
 * partitions); then the ledger's reads in a process of their own (history-read.mjs), and
 * `duck-orch status` as a whole process paired with `status` on the same project without history.
 */
function historyName() {
  const total = KNOBS.BENCH_HISTORY_TASKS * KNOBS.BENCH_HISTORY_PARTITIONS;
  return total === 1e6 ? 'history-1m' : `history-${total}`;
}

function historyCase() {
  const work = mkWork('history');
  const nTasks = KNOBS.BENCH_HISTORY_TASKS;
  const nParts = KNOBS.BENCH_HISTORY_PARTITIONS;
  const tasks = historyProject(path.join(work, 'tasks'), nTasks);
  const empty = path.join(work, 'empty.duckdb');
  const reg = runScript(work, 'register-case.mjs', [tasks, empty]);
  if (reg.tasks !== nTasks) throw new Error(`registered ${reg.tasks} of ${nTasks} tasks`);
  const db = path.join(work, 'history.duckdb');
  fs.copyFileSync(empty, db);
  const gen = runScript(work, 'history-gen.mjs', [db, String(nTasks), String(nParts)]);
  const total = nTasks * nParts;
  for (const t of ['jobs', 'attempts', 'task_state', 'asset_state'])
    if (gen.counts[t] !== total) throw new Error(`history: ${gen.counts[t]} rows in ${t}, expected ${total}`);
  log(
    `  generated ${fmtN(total)} task runs in ${fmtMs(gen.ms)} (${Object.entries(gen.steps)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')} ms), ${(gen.bytes / 2 ** 20).toFixed(0)} MiB, ${fmtMb(gen.maxRssMb)}`,
  );

  const id = String(Math.min(42, nTasks - 1)).padStart(3, '0');
  const asset = `asset_${id}`;
  const task = `t_${id}`;
  const partition = new Date(Date.UTC(2026, 0, 1) + Math.floor(nParts / 2) * 86400000).toISOString().slice(0, 10);
  const reads = runScript(work, 'history-read.mjs', [db, asset, task, partition, String(KNOBS.BENCH_HISTORY_REPEATS)]);
  const r = reads.reads;
  if (r.assetStates.result.partitions !== nParts) throw new Error(`assetStates(${asset}): ${r.assetStates.result.partitions} partitions`);
  if (r.assetSummaries.result.assets !== nTasks || r.assetSummaries.result.partitions !== total)
    throw new Error(`assetSummaries: ${JSON.stringify(r.assetSummaries.result)}`);
  if (r.taskStates.result.rows !== nTasks) throw new Error(`taskStates: ${r.taskStates.result.rows} rows, expected one per task`);
  const readStats = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...summary(v.samples), first: v.first, result: v.result }]));
  for (const [k, v] of Object.entries(readStats))
    log(`  ${k}: median ${fmtMs(v.median)} [${fmtMs(v.min)}–${fmtMs(v.max)}], first ${fmtMs(v.first)}, ${JSON.stringify(v.result)}`);

  // Commands as whole processes, with and without the history, alternating.
  const label = `history ${fmtN(total)} (${nTasks} × ${fmtN(nParts)})`;
  const processPairs = (args, expectEmpty, expectHistory) => {
    const command = (file, expect) => () => {
      const res = expectOk(runCli(work, ['--db', file, ...args]), `${args.join(' ')} on ${path.basename(file)}`);
      if (!res.stdout.includes(expect)) throw new Error(`${args.join(' ')} on ${path.basename(file)} printed:\n${tail(res.stdout)}`);
      return res;
    };
    const pairs = alternate(KNOBS.BENCH_HISTORY_STATUS_PAIRS, command(empty, expectEmpty), command(db, expectHistory)).map(
      ({ a, b, first }, i) => {
        log(
          `  ${args[0]} ${args[1] ?? ''} pair ${i + 1} (${first === 'a' ? 'empty first' : 'history first'}): empty ${fmtMs(a.ms)}, history ${fmtMs(b.ms)}`,
        );
        return {
          empty: { ms: a.ms, maxRssMb: a.maxRssMb },
          history: { ms: b.ms, maxRssMb: b.maxRssMb },
          first,
          diff: b.ms - a.ms,
          ratio: b.ms / a.ms,
        };
      },
    );
    const sEmpty = summary(pairs.map((p) => p.empty.ms));
    const sHist = summary(pairs.map((p) => p.history.ms));
    const diff = summary(pairs.map((p) => p.diff));
    const ratio = summary(pairs.map((p) => p.ratio));
    const rssOf = (side) => summary(pairs.map((p) => p[side].maxRssMb)).median;
    const name = `duck-orch ${args.join(' ')}`;
    return {
      data: { history: sHist, empty: sEmpty, diffMs: diff, ratio, pairs },
      row: [
        `${label}: ${name} (whole process)`,
        `${pairs.length} pairs`,
        fmtMs(sHist.median),
        `the same, empty history: ${fmtMs(sEmpty.median)}`,
        fmtRatio(ratio),
        `${fmtMb(rssOf('history'))} / empty ${fmtMb(rssOf('empty'))}`,
        `difference ${fmtMs(diff.median)} [${fmtMs(diff.min)}–${fmtMs(diff.max)}]; target within 100 ms: ${diff.median < 100 ? 'met' : `missed by ${fmtMs(diff.median - 100)}`}`,
      ],
    };
  };
  const status = processPairs(['status'], 'No runs yet', task.slice(0, 2));
  const show = processPairs(['asset', 'show', asset], 'never', 'succeeded');
  const calendar = processPairs(['asset', 'partitions', asset], 'Status: 0 ✅ ok', 'Status: ');
  const health = processPairs(['asset', 'health'], asset, asset);

  const reps = `${KNOBS.BENCH_HISTORY_REPEATS} calls`;
  const readRow = (k, what, target) => {
    const v = readStats[k];
    return [
      `${label}: ${what}`,
      reps,
      `${fmtMs(v.median)} [${fmtMs(v.min)}–${fmtMs(v.max)}]`,
      '—',
      '—',
      fmtMb(reads.maxRssMb),
      `${target === undefined ? 'no target' : `target < ${target} ms: ${v.median < target ? 'met' : `missed by ${fmtMs(v.median - target)}`}`}; first call ${fmtMs(v.first)}`,
    ];
  };
  const rows = [
    [
      `${label}: generate (SQL into the ledger tables)`,
      '1 run',
      fmtMs(gen.ms),
      '—',
      '—',
      fmtMb(gen.maxRssMb),
      `database ${(gen.bytes / 2 ** 20).toFixed(0)} MiB; ${fmtN(nParts)} runs, ${fmtN(gen.dead)} dead jobs`,
    ],
    readRow('assetStates', `assetStates('${asset}'), ${fmtN(nParts)} partitions`, 50),
    readRow('assetSummaries', `assetSummaries(), ${nTasks} assets`, 50),
    readRow('lastWatermark', `lastWatermark('${task}', '${partition}')`, 5),
    readRow('taskStates', `taskStates(), ${nTasks} tasks over ${fmtN(total)} partitions (graph colouring)`, 50),
    status.row,
    show.row,
    calendar.row,
    health.row,
  ];
  return {
    data: {
      tasks: nTasks,
      partitions: nParts,
      taskRuns: total,
      generate: { ms: gen.ms, steps: gen.steps, bytes: gen.bytes, dead: gen.dead, maxRssMb: gen.maxRssMb },
      read: { openMs: reads.openMs, maxRssMb: reads.maxRssMb, ...readStats },
      status: status.data,
      assetShow: show.data,
      assetPartitions: calendar.data,
      assetHealth: health.data,
    },
    rows,
  };
}

// ---- start-up: whole processes against bare node, interleaved ----

function startupCase() {
  const work = mkWork('startup');
  const db = path.join(work, 'shop.duckdb');
  expectOk(runCli(work, ['--db', db, 'register', 'examples/shop/tasks']), 'register the example');
  expectOk(runCli(work, ['--db', db, 'run']), 'run the example');
  const one = 'examples/shop/tasks/staging/stg_orders.sql';
  const commands = [
    { key: 'node', label: 'node -e 0', args: ['-e', '0'], check: () => true },
    { key: 'help', label: 'duck-orch --help', args: [CLI, '--help'], check: (r) => r.stdout.includes('Usage: duck-orch') },
    { key: 'version', label: 'duck-orch --version', args: [CLI, '--version'], check: (r) => /\d+\.\d+\.\d+/.test(r.stdout) },
    {
      key: 'validate',
      label: 'duck-orch validate <one file>',
      args: [CLI, 'validate', one],
      check: (r) => r.stdout.includes('stg_orders'),
    },
    {
      key: 'status',
      label: 'duck-orch status (9-task project)',
      args: [CLI, '--db', db, 'status'],
      check: (r) => r.stdout.includes('succeeded'),
    },
  ];
  // `--version` may not exist yet: then it is reported as n/a rather than measured.
  const probe = runNode(work, [CLI, '--version']);
  const versionNa = probe.code !== 0 || !/\d+\.\d+\.\d+/.test(probe.stdout);
  if (versionNa) log(`  --version: not supported by this CLI (${describeExit(probe)}: ${probe.stderr.split('\n')[0]}) — reported as n/a`);
  const active = commands.filter((c) => !(versionNa && c.key === 'version'));
  const samples = Object.fromEntries(active.map((c) => [c.key, []]));
  const ratios = Object.fromEntries(active.map((c) => [c.key, []]));
  const rssRuns = Object.fromEntries(active.map((c) => [c.key, []]));
  for (let round = 0; round < KNOBS.BENCH_STARTUP_REPEATS; round++) {
    const k = round % active.length;
    const order = [...active.slice(k), ...active.slice(0, k)];
    const got = {};
    for (const c of order) {
      // A smoke run's figures mean nothing: its timed runs give the peak RSS too, sparing 3 more runs each.
      const r = runNode(work, c.args, { measureRss: SMOKE });
      if (r.code !== 0 || !c.check(r)) throw new Error(`${c.label} failed (${describeExit(r)}):\n${tail(r.stderr || r.stdout)}`);
      got[c.key] = r;
      samples[c.key].push(r.ms);
      if (SMOKE) rssRuns[c.key].push(r.maxRssMb);
    }
    for (const c of active) ratios[c.key].push(got[c.key].ms / got.node.ms);
  }
  // Peak RSS from 3 separate runs with the RSS hook, so that the hook's own load time stays out of the timings.
  if (!SMOKE) for (const c of active) rssRuns[c.key] = [1, 2, 3].map(() => runNode(work, c.args).maxRssMb);
  const node = summary(samples.node);
  const data = { repeats: KNOBS.BENCH_STARTUP_REPEATS, versionSupported: !versionNa };
  const rows = [];
  for (const c of commands) {
    if (c.key === 'version' && versionNa) {
      data.version = { na: true, reason: probe.stderr.split('\n')[0] };
      rows.push([`startup: ${c.label}`, '—', 'n/a', '—', 'n/a', 'n/a', 'the CLI has no --version yet']);
      continue;
    }
    const ms = summary(samples[c.key]);
    const rss = summary(rssRuns[c.key]);
    const ratio = summary(ratios[c.key]);
    data[c.key] = { ms, maxRssMb: rss, ratio, samples: samples[c.key] };
    log(`  ${c.label}: median ${fmtMs(ms.median)}, p90 ${fmtMs(ms.p90)}, ×${ratio.median.toFixed(2)}, ${fmtMb(rss.median)}`);
    if (c.key === 'node') {
      rows.push([
        `startup: ${c.label} (baseline)`,
        `${ms.n} runs`,
        `${fmtMs(ms.median)}, p90 ${fmtMs(ms.p90)}`,
        '—',
        '1',
        fmtMb(rss.median),
        '',
      ]);
      continue;
    }
    const target = c.key === 'help' || c.key === 'version' ? `target ≤ 1.5× node: ${ratio.median <= 1.5 ? 'met' : 'missed'}` : '';
    rows.push([
      `startup: ${c.label}`,
      `${ms.n} rounds`,
      `${fmtMs(ms.median)}, p90 ${fmtMs(ms.p90)}`,
      `node -e 0: ${fmtMs(node.median)}, p90 ${fmtMs(node.p90)}`,
      fmtRatio(ratio),
      fmtMb(rss.median),
      target,
    ]);
  }
  return { data, rows };
}

// ---- the driver ----

/**
 * The scaled shop with its ledger on PostgreSQL, worked by two `duck-orch worker` processes
 * sharing its database file against one, paired (`bench/shop-workers.mjs`).
 */
async function shopWorkersCase() {
  const w = workload('shop');
  const schemas = [];
  const one = (workers, i) => {
    const dir = path.join(w.work, `workers-${workers}-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const db = path.join(dir, 'shop.duckdb');
    fs.copyFileSync(w.template, db);
    const schema = freshSchema('shopw');
    schemas.push(schema);
    const r = runScript(w.work, 'shop-workers.mjs', [db, String(workers)], {
      env: { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: schema },
      measureRss: false,
    });
    fs.rmSync(dir, { recursive: true, force: true });
    if (r.succeeded !== r.jobs || r.jobs !== w.info.tasks) throw new Error(`shop-workers: ${r.succeeded} of ${r.jobs} jobs succeeded`);
    return r;
  };
  try {
    const samples = alternate(
      KNOBS.BENCH_PAIRS,
      (i) => one(2, i),
      (i) => one(1, i),
    ).map(({ a, b }) => ({ two: a, one: b, ratio: a.ms / b.ms }));
    samples.forEach((s, i) =>
      log(`  pair ${i + 1}: two workers ${fmtMs(s.two.ms)}, one worker ${fmtMs(s.one.ms)}, ratio ${s.ratio.toFixed(3)}`),
    );
    const two = summary(samples.map((s) => s.two.ms));
    const oneW = summary(samples.map((s) => s.one.ms));
    const ratio = summary(samples.map((s) => s.ratio));
    return {
      data: { two, one: oneW, ratio, samples },
      rows: [
        [
          `${w.label}, ledger on PostgreSQL: two workers sharing the database file`,
          `${samples.length} pairs`,
          fmtMs(two.median),
          `one worker: ${fmtMs(oneW.median)}`,
          fmtRatio(ratio),
          `${fmtMb(summary(samples.map((s) => s.two.peakRssMb)).median)} / ${fmtMb(summary(samples.map((s) => s.one.peakRssMb)).median)} (largest worker)`,
          'every job is SQL on one DuckDB file: one worker at a time holds it (the per-database lease), so a second worker cannot speed it up; the ratio is the cost of sharing',
        ],
      ],
    };
  } finally {
    await dropSchemas(schemas);
  }
}

const pgContext = () => ({ mkWork, log, knobs: KNOBS, P });
const PG = { postgres: true };

// [name, run, { postgres }]: `postgres` when the case needs a PostgreSQL server (its ledger or its baseline).
const CASES = [
  ['startup', startupCase],
  ['trivial-seq', () => pairedCase('trivial', 1)],
  ['trivial-floor', () => floorCase('trivial')],
  [`trivial-p${P}`, () => pairedCase('trivial', P)],
  ['shop-seq', () => pairedCase('shop', 1)],
  [`shop-p${P}`, () => pairedCase('shop', P)],
  ['register', registerCase],
  ['fn-noop', () => fnNoopCase('duckdb'), PG],
  ['fn-noop-pg', () => fnNoopCase('postgres'), PG],
  ['latency-pg', () => latencyCase(pgContext()), PG],
  ['backlog-pg', () => backlogCase(pgContext()), PG],
  ['fanout-pg', () => fanoutCase(pgContext()), PG],
  ['recovery-pg', () => recoveryCase(pgContext()), PG],
  ['shop-workers-pg', shopWorkersCase, PG],
  ['drain-pg', () => drainCase(pgContext(), 'postgres'), PG],
  ['drain-duckdb', () => drainCase(pgContext(), 'duckdb'), PG],
  ['worker-startup', () => workerStartupCase(pgContext()), PG],
  ['enqueue-many', () => enqueueManyCase(pgContext()), PG],
  ['backfill-365', () => backfillCase(pgContext())],
  ['backfill-enqueue', () => backfillEnqueueCase(pgContext()), PG],
  ['backfill-memory', () => backfillMemoryCase(pgContext())],
  ['partition-status', () => partitionStatusCase(pgContext())],
  ['plan-10k', () => planCase(pgContext(), chainedProject)],
  ['automation-10k', () => automationCase(pgContext(), chainedProject)],
  [historyName(), historyCase],
  ...KNOBS.BENCH_CHAIN_SIZES.map((n) => [`chain-${n}`, () => chainCase(n)]),
].map(([name, run, { postgres = false } = {}]) => ({ name, run, postgres }));

const filters = argv;
const chosen = CASES.filter(
  ({ name, postgres }) => (filters.length === 0 || filters.some((f) => name.startsWith(f))) && !(NO_PG && postgres),
).filter((_, i) => !SHARD || i % SHARD.n === SHARD.k - 1);
if (LIST) {
  for (const { name, postgres } of chosen) console.log(JSON.stringify({ name, postgres }));
  process.exit(0);
}
if (chosen.length === 0) {
  log(`no case matches ${filters.join(' ')}${NO_PG ? ' without PostgreSQL' : ''}; cases: ${CASES.map((c) => c.name).join(', ')}`);
  process.exit(2);
}
if (!fs.existsSync(CLI)) {
  log('dist/ is missing: run `npm run build` first (npm run bench does)');
  process.exit(2);
}
if (SMOKE) log('smoke run: every case at a tiny size; the figures mean nothing');
setChildTmp(mkWork('tmp'));

const started = new Date();
const t0 = performance.now();
const loadStart = os.loadavg();
const results = {};
const table = [];
let failed = false;
try {
  for (const { name, run } of chosen) {
    log(`${name} …`);
    const c0 = performance.now();
    try {
      const r = await run();
      results[name] = { ...r.data, rows: r.rows, caseWallMs: performance.now() - c0 };
      table.push(...r.rows);
    } catch (err) {
      failed = true;
      const message = err instanceof Error ? err.message : String(err);
      log(`${name} FAILED: ${message}`);
      results[name] = { error: message, caseWallMs: performance.now() - c0 };
      table.push([name, '', 'FAILED', '', '', '', message.split('\n')[0].slice(0, 120)]);
    }
    log(`${name}: ${fmtMs(performance.now() - c0)}`);
  }
} finally {
  cleanup();
}
const wallMs = performance.now() - t0;

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  if (execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim()) commit += ' (src modified)';
} catch {
  /* not a git checkout */
}
const duckdb = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@duckdb/node-api/package.json'), 'utf8')).version;
const machine = {
  date: started.toISOString(),
  commit,
  node: process.version,
  duckdb,
  cpus: os.cpus().length,
  loadavg: { start: loadStart.map((x) => +x.toFixed(2)), end: os.loadavg().map((x) => +x.toFixed(2)) },
  wallMs,
};

const header = ['benchmark', 'n', 'duck-orch (median)', 'baseline (median)', 'ratio: median [range]', 'peak RSS (median)', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => String(r[i]).length)));
const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
console.log(
  `${machine.date.slice(0, 10)}, commit ${commit}, ${machine.cpus} cores, Node ${machine.node}, DuckDB node-api ${duckdb}, ` +
    `load ${machine.loadavg.start[0]} → ${machine.loadavg.end[0]}; wall time ${(wallMs / 1000).toFixed(0)} s\n`,
);
console.log([line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...table.map(line)].join('\n'));
const once = Object.entries(results).filter(([k, v]) => k.startsWith('chain-') && v.repeats === 1);
console.log(
  '\nratio: duck-orch / baseline, per pair of adjacent runs (which one went first alternates); median [min–max] over the pairs.' +
    (once.length
      ? `\n${once.map(([k]) => k).join(', ')}: one repeat (sizes of ${fmtN(KNOBS.BENCH_CHAIN_BIG)} tasks and more run once), so single samples.`
      : ''),
);

// A subset run updates only its own cases in the results file.
if (RESULTS) {
  let previous = {};
  try {
    previous = JSON.parse(fs.readFileSync(RESULTS, 'utf8'));
  } catch {
    /* first run */
  }
  const merged = filters.length === 0 || !previous.cases ? {} : previous.cases;
  fs.writeFileSync(
    RESULTS,
    JSON.stringify(
      {
        ...machine,
        smoke: SMOKE,
        knobs: KNOBS,
        filters,
        cases: { ...merged, ...Object.fromEntries(Object.entries(results).map(([k, v]) => [k, { ...v, date: machine.date, commit }])) },
      },
      null,
      2,
    ) + '\n',
  );
}
if (failed) process.exitCode = 1;

// The cases of the PostgreSQL ledger (issue 7) besides fn-noop-pg: pickup latency beside
// graphile-worker, throughput beside a backlog of 200,000 jobs that cannot run, a 10,000-job
// fan-out/fan-in DAG, and the recovery of a SIGKILLed worker's jobs. Each measured side runs in a
// child process of its own (peak RSS beside its time); every schema it creates is dropped.
import fs from 'node:fs';
import path from 'node:path';
import { fmtMb, fmtMs, fmtN, fmtRatio, percentile, runNode, runScript, summary, tail } from './lib.mjs';
import { fanModule, noopModule } from './workloads.mjs';

export const PG_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const freshSchema = (tag) => `bench_${tag}_${Math.random().toString(36).slice(2, 10)}`;

/** Runs `fn` with a connected client of PG_URL, ended after. */
export async function withPg(fn) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchemas(schemas) {
  await withPg(async (client) => {
    for (const s of schemas) if (s) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  });
}

/** A registered template database of a TypeScript module (registered once per work folder). */
function registered(work, name, moduleDir, tasks) {
  const template = path.join(work, `${name}.duckdb`);
  if (!fs.existsSync(template)) {
    const r = runScript(work, 'register-case.mjs', [moduleDir, template]);
    if (r.tasks !== tasks) throw new Error(`registered ${r.tasks} of ${tasks} tasks of ${name}`);
  }
  return template;
}

/** One `project.run` of every task of a registered template, its ledger in `schema` (or DuckDB when null). */
function runTemplate(work, template, parallel, schema, i) {
  const db = path.join(work, `run-${i}.duckdb`);
  fs.copyFileSync(template, db);
  try {
    const env = schema ? { env: { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: schema } } : undefined;
    return runScript(work, 'duckorch-run.mjs', [db, String(parallel)], env);
  } finally {
    for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
  }
}

export async function latencyCase({ mkWork, knobs }) {
  const work = mkWork('latency-pg');
  const n = knobs.BENCH_LATENCY_SAMPLES;
  const template = registered(work, 'noop-100', noopModule(path.join(work, 'noop'), 100), 100);
  const db = path.join(work, 'latency.duckdb');
  fs.copyFileSync(template, db);
  const schema = freshSchema('lat');
  let d, g;
  try {
    d = runScript(work, 'latency-duckorch.mjs', [db, String(n)], { env: { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: schema } });
  } finally {
    await dropSchemas([schema]);
  }
  const r = runNode(work, [path.join(path.dirname(new URL(import.meta.url).pathname), 'graphile-latency.mjs'), String(n)], {
    env: { DATABASE_URL: PG_URL },
  });
  if (r.code !== 0) throw new Error(`graphile-latency failed:\n${tail(r.stderr)}`);
  g = { ...JSON.parse(r.stdout.trim().split('\n').at(-1)), maxRssMb: r.maxRssMb };
  const stats = (xs) => ({ p50: percentile(xs, 50), p90: percentile(xs, 90), p99: percentile(xs, 99), max: Math.max(...xs) });
  const ds = stats(d.samples);
  const gs = stats(g.samples);
  const fmt = (s) => `p50 ${fmtMs(s.p50)}, p99 ${fmtMs(s.p99)}`;
  return {
    data: { samples: n, duckorch: ds, graphile: gs, duckorchRssMb: d.maxRssMb, graphileRssMb: g.maxRssMb },
    rows: [
      [
        'enqueue-to-start latency, idle worker, ledger on PostgreSQL',
        `${fmtN(n)} jobs each`,
        fmt(ds),
        `graphile-worker: ${fmt(gs)}`,
        `p50 ${(ds.p50 / gs.p50).toFixed(2)}, p99 ${(ds.p99 / gs.p99).toFixed(2)}`,
        `${fmtMb(d.maxRssMb)} / graphile ${fmtMb(g.maxRssMb)}`,
        'from calling enqueue (addJob) to the task starting; one job at a time, a 5–25 ms pause between them; 5 warm-up jobs not counted',
      ],
    ],
  };
}

export async function backlogCase({ mkWork, knobs, P, log }) {
  const work = mkWork('backlog-pg');
  const jobs = knobs.BENCH_FN_JOBS;
  const backlog = knobs.BENCH_BACKLOG_JOBS;
  const template = registered(work, `noop-${jobs}`, noopModule(path.join(work, 'noop'), jobs), jobs);
  const empty = freshSchema('bl_empty');
  const full = freshSchema('bl_full');
  try {
    const fill = runScript(work, 'pg-backlog.mjs', [String(backlog)], { env: { BENCH_LEDGER_URL: PG_URL, BENCH_LEDGER_SCHEMA: full } });
    log(`  backlog of ${fmtN(fill.jobs)} jobs that cannot run written in ${fmtMs(fill.ms)}`);
    const samples = [];
    for (let i = 0; i < knobs.BENCH_PAIRS; i++) {
      const order = i % 2 === 0 ? [empty, full] : [full, empty];
      const r = Object.fromEntries(order.map((schema) => [schema, runTemplate(work, template, P, schema, i)]));
      const e = r[empty];
      const f = r[full];
      if (e.succeeded !== jobs || f.succeeded !== jobs) throw new Error(`backlog-pg: a run did not succeed every job`);
      samples.push({ empty: e, full: f, ratio: f.ms / e.ms });
      log(`  pair ${i + 1}: empty queue ${fmtMs(e.ms)}, beside the backlog ${fmtMs(f.ms)}, ratio ${(f.ms / e.ms).toFixed(3)}`);
    }
    const e = summary(samples.map((s) => s.empty.ms));
    const f = summary(samples.map((s) => s.full.ms));
    const ratio = summary(samples.map((s) => s.ratio));
    const jps = (ms) => `${fmtN(Math.round((jobs / ms) * 1000))} jobs/s`;
    return {
      data: { jobs, backlog, parallel: P, emptyMs: e, backlogMs: f, ratio, samples },
      rows: [
        [
          `${fmtN(jobs)} no-op tasks, ${P} parallel, beside ${fmtN(backlog)} jobs that cannot run`,
          `${samples.length} pairs`,
          `${fmtMs(f.median)} (${jps(f.median)})`,
          `empty queue: ${fmtMs(e.median)} (${jps(e.median)})`,
          fmtRatio(ratio),
          `${fmtMb(summary(samples.map((s) => s.full.maxRssMb)).median)} / ${fmtMb(summary(samples.map((s) => s.empty.maxRssMb)).median)}`,
          'target: within 10% (ratio ≤ 1.10); the backlog waits for a job scheduled 10 years ahead',
        ],
      ],
    };
  } finally {
    await dropSchemas([empty, full]);
  }
}

export async function fanoutCase({ mkWork, knobs, P, log }) {
  const work = mkWork('fanout-pg');
  const n = knobs.BENCH_FANOUT;
  const t0 = performance.now();
  const template = registered(work, `fan-${n}`, fanModule(path.join(work, 'fan'), n), n + 2);
  log(`  registered ${fmtN(n + 2)} tasks in ${fmtMs(performance.now() - t0)}`);
  const rows = [];
  const data = {};
  for (const store of ['postgres', 'duckdb']) {
    const schema = store === 'postgres' ? freshSchema('fan') : null;
    try {
      const samples = [];
      for (let i = 0; i < knobs.BENCH_FANOUT_REPEATS; i++) {
        const r = runTemplate(work, template, P, schema, i);
        if (r.succeeded !== n + 2) throw new Error(`fanout: ${r.succeeded} of ${n + 2} jobs succeeded`);
        samples.push(r);
        log(`  ${store} repeat ${i + 1}: ${fmtMs(r.ms)}`);
      }
      const ms = summary(samples.map((s) => s.ms));
      const rss = summary(samples.map((s) => s.maxRssMb));
      data[store] = { ms, rssMb: rss, jobsPerSecond: ((n + 2) / ms.median) * 1000 };
      rows.push([
        `fan-out/fan-in of ${fmtN(n + 2)} no-op function jobs, ${P} parallel, ledger in ${store === 'postgres' ? 'PostgreSQL' : 'DuckDB'}`,
        `${samples.length} runs`,
        `${fmtMs(ms.median)} (${fmtN(Math.round(((n + 2) / ms.median) * 1000))} jobs/s)`,
        '—',
        'n/a',
        fmtMb(rss.median),
        `enqueue of the run included; the sink receives ${fmtN(n)} upstream results`,
      ]);
    } finally {
      if (schema) await dropSchemas([schema]);
    }
  }
  return { data, rows };
}

export async function recoveryCase({ mkWork, knobs }) {
  const work = mkWork('recovery-pg');
  const lease = knobs.BENCH_RECOVERY_LEASE_S;
  const r = runScript(work, 'recovery-pg.mjs', [work, String(lease), String(knobs.BENCH_RECOVERY_ROUNDS)], {
    env: { BENCH_LEDGER_URL: PG_URL },
  });
  const s = summary(r.samples);
  return {
    data: { leaseMs: r.leaseMs, recoveryMs: s, samples: r.samples, workerPeakRssMb: r.workerPeakRssMb },
    rows: [
      [
        `jobs of a SIGKILLed worker taken back, lease ${lease} s`,
        `${r.samples.length} kills`,
        `${fmtMs(s.median)} [${fmtMs(s.min)}–${fmtMs(s.max)}]`,
        'graphile-worker: 4 h by design; Orchex: never',
        `${(s.max / r.leaseMs).toFixed(2)} lease at most`,
        `${fmtMb(r.workerPeakRssMb)} (worker)`,
        'from SIGKILL until another worker holds all 4 of its jobs (ledger rows, polled every 20 ms)',
      ],
    ],
  };
}

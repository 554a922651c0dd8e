// The assets issue's cases.
// - `backfill-365`: a backfill of the 365 daily partitions of 2025 of a real aggregation over
//   `raw.events` (BENCH_BACKFILL_ROWS rows), as `duck-orch backfill` processes, against the same
//   365 days' DELETE and INSERT as prepared statements in one process (`backfill-direct.mjs`);
//   serial (target ratio < 1.10), then with -p 4 on both sides.
// - `backfill-enqueue`: planning and enqueueing a backfill of BENCH_BACKFILL_PLAN partitions
//   (`backfill --enqueue`, a whole process), on a DuckDB file and on PostgreSQL; target < 2 s.
//   Beside it, `asset list` on the same project: the process's fixed cost.
// - `backfill-memory`: a backfill of BENCH_BACKFILL_MEMORY partitions of a small task, queued,
//   then worked by `worker --once` on the embedded ledger, its jobs kept in memory a page at a
//   time (the default) against the whole run held in memory (a page larger than the run): the
//   worker's peak RSS and time.
// - `automation-10k`: `automation status` over BENCH_PLAN_TASKS chained assets with mixed
//   conditions, in process: the evaluation itself (target < 100 ms) against the whole call, which
//   reads their state from the ledger.
// Every sample is a process of its own, on a fresh copy of the template database.
import fs from 'node:fs';
import path from 'node:path';
import { alternate, expectOk, fmtMb, fmtMs, fmtN, fmtRatio, runCli, runScript, summary } from './lib.mjs';
import { PG_URL } from './pg-cases.mjs';

const DAILY_TOTALS = `-- @asset analytics.daily_totals
-- @partitions_by daily(start=2025-01-01, end=2025-12-31)
-- @param partition_key:DATE
CREATE TABLE IF NOT EXISTS analytics.daily_totals (day DATE, customer INTEGER, total DOUBLE, n BIGINT);
DELETE FROM analytics.daily_totals WHERE day = $partition_key;
INSERT INTO analytics.daily_totals
SELECT day, customer, sum(amount), count(*) FROM raw.events WHERE day = $partition_key GROUP BY day, customer;
`;

function copyDb(from, to) {
  for (const f of [to, `${to}.wal`]) fs.rmSync(f, { force: true });
  fs.copyFileSync(from, to);
}

function removeDb(db) {
  for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
}

export function backfillCase({ mkWork, log, knobs }) {
  const work = mkWork('backfill');
  const rows = knobs.BENCH_BACKFILL_ROWS;
  const days = 365;
  const template = path.join(work, 'template.duckdb');
  const setup = runScript(work, 'backfill-setup.mjs', [template, String(rows)]);
  log(`  raw.events: ${fmtN(setup.rows)} rows, ${(setup.bytes / 2 ** 20).toFixed(0)} MiB, made in ${fmtMs(setup.ms)}`);
  const tasks = path.join(work, 'tasks');
  fs.mkdirSync(tasks);
  fs.writeFileSync(path.join(tasks, 'daily_totals.sql'), DAILY_TOTALS);
  expectOk(runCli(work, ['--db', template, 'register', tasks]), 'register');
  let expectedRows;
  const direct = (parallel) => (i) => {
    const db = path.join(work, `direct-${parallel}-${i}.duckdb`);
    copyDb(template, db);
    try {
      const r = runScript(work, 'backfill-direct.mjs', [db, String(days), String(parallel)]);
      if (r.days !== days) throw new Error(`direct: ${r.days} days`);
      expectedRows ??= r.rows;
      if (r.rows !== expectedRows) throw new Error(`direct: ${r.rows} rows, expected ${expectedRows}`);
      return { ms: r.wallMs, maxRssMb: r.maxRssMb };
    } finally {
      removeDb(db);
    }
  };
  const duck = (parallel) => (i) => {
    const db = path.join(work, `duckorch-${parallel}-${i}.duckdb`);
    copyDb(template, db);
    try {
      const r = expectOk(
        runCli(work, [
          '--db',
          db,
          'backfill',
          'analytics.daily_totals',
          '--from',
          '2025-01-01',
          '--to',
          '2025-12-31',
          '-p',
          String(parallel),
          '--json',
        ]),
        'backfill',
      );
      const out = JSON.parse(r.stdout);
      if (out.succeeded.length !== days) throw new Error(`backfill: ${out.succeeded.length} partitions succeeded`);
      return { ms: r.ms, maxRssMb: r.maxRssMb };
    } finally {
      removeDb(db);
    }
  };
  const pairs = (parallel) =>
    alternate(knobs.BENCH_PAIRS, direct(parallel), duck(parallel)).map(({ a, b, first }, i) => {
      log(
        `  -p ${parallel} pair ${i + 1} (${first === 'a' ? 'direct first' : 'duck-orch first'}): direct ${fmtMs(a.ms)}, duck-orch ${fmtMs(b.ms)}`,
      );
      return { direct: a, duckorch: b, ratio: b.ms / a.ms };
    });
  const serial = pairs(1);
  const par = pairs(4);
  const stat = (samples, side) => summary(samples.map((s) => s[side].ms));
  const rss = (samples, side) => summary(samples.map((s) => s[side].maxRssMb)).median;
  const sRatio = summary(serial.map((s) => s.ratio));
  const pRatio = summary(par.map((s) => s.ratio));
  const speedup = stat(serial, 'duckorch').median / stat(par, 'duckorch').median;
  const label = `backfill 365 daily partitions over ${fmtN(setup.rows)} rows`;
  const row = (samples, parallel, ratio, note) => [
    `${label}, -p ${parallel} (whole process)`,
    `${samples.length} pair${samples.length === 1 ? '' : 's'}`,
    fmtMs(stat(samples, 'duckorch').median),
    `node-api, prepared, ${parallel} connection${parallel === 1 ? '' : 's'}: ${fmtMs(stat(samples, 'direct').median)}`,
    fmtRatio(ratio),
    `${fmtMb(rss(samples, 'duckorch'))} / direct ${fmtMb(rss(samples, 'direct'))}`,
    note,
  ];
  return {
    data: { rows: setup.rows, days, serial: { ratio: sRatio, samples: serial }, parallel4: { ratio: pRatio, samples: par }, speedup },
    rows: [
      row(serial, 1, sRatio, `target < 1.10: ${sRatio.median < 1.1 ? 'met' : 'missed'}`),
      row(par, 4, pRatio, `duck-orch -p 4 is ${speedup.toFixed(2)}× its -p 1`),
    ],
  };
}

export async function backfillEnqueueCase({ mkWork, log, knobs }) {
  const work = mkWork('backfill-enqueue');
  const n = knobs.BENCH_BACKFILL_PLAN;
  // A daily asset whose first partition is n days before yesterday: the backfill names them all.
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const start = new Date(today - n * 86_400_000).toISOString().slice(0, 10);
  const end = new Date(today - 86_400_000).toISOString().slice(0, 10);
  const tasks = path.join(work, 'tasks');
  fs.mkdirSync(tasks);
  fs.writeFileSync(
    path.join(tasks, 'wide.sql'),
    `-- @partitions_by daily(start=${start})\nCREATE TABLE IF NOT EXISTS wide AS SELECT 1 AS x;\n`,
  );
  const template = path.join(work, 'template.duckdb');
  expectOk(runCli(work, ['--db', template, 'register', tasks]), 'register');
  const pending = [];
  const rows = [];
  const data = { partitions: n };
  for (const store of ['duckdb', 'postgres']) {
    const env = (i) => {
      if (store === 'duckdb') return {};
      const schema = `bench_bf_${Math.random().toString(36).slice(2, 10)}_${i}`;
      pending.push(schema);
      return { DATABASE_URL: PG_URL, DUCKORCH_PG_SCHEMA: schema };
    };
    const sample = (command) => (i) => {
      const db = path.join(work, `${store}-${command}-${i}.duckdb`);
      copyDb(template, db);
      const e = env(i);
      try {
        if (store === 'postgres') expectOk(runCli(work, ['--db', db, 'init-db'], { env: e }), 'init-db');
        const args =
          command === 'backfill'
            ? ['--db', db, 'backfill', 'wide', '--from', start, '--to', end, '--enqueue', '--json']
            : ['--db', db, 'asset', 'list', '--json'];
        const r = expectOk(runCli(work, args, { env: e }), command);
        if (command === 'backfill' && JSON.parse(r.stdout).planned !== n)
          throw new Error(`backfill planned ${JSON.parse(r.stdout).planned}`);
        return { ms: r.ms, maxRssMb: r.maxRssMb };
      } finally {
        removeDb(db);
      }
    };
    const samples = alternate(knobs.BENCH_PAIRS, sample('list'), sample('backfill')).map(({ a, b }) => ({ list: a, backfill: b }));
    const b = summary(samples.map((s) => s.backfill.ms));
    const l = summary(samples.map((s) => s.list.ms));
    log(`  ${store}: backfill --enqueue ${fmtMs(b.median)}, asset list ${fmtMs(l.median)}`);
    data[store] = { backfill: b, list: l, samples };
    rows.push([
      `backfill --enqueue of ${fmtN(n)} daily partitions, ledger ${store === 'duckdb' ? 'in the DuckDB file' : 'on PostgreSQL'} (whole process)`,
      `${samples.length} runs`,
      fmtMs(b.median),
      `asset list (the fixed cost): ${fmtMs(l.median)}`,
      fmtRatio(summary(samples.map((s) => s.backfill.ms / s.list.ms))),
      `${fmtMb(summary(samples.map((s) => s.backfill.maxRssMb)).median)} / list ${fmtMb(summary(samples.map((s) => s.list.maxRssMb)).median)}`,
      `target < 2 s: ${b.median < 2000 ? 'met' : 'missed'}`,
    ]);
  }
  if (pending.length) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      for (const s of pending) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      await client.end();
    }
  }
  return { data, rows };
}

// `partition-status`: the status of every partition of a 10-year daily asset (3,650 partitions,
// target < 50 ms) and of a 100-year hourly one (876,000, target < 200 ms), the calendar's and the
// missing set's read, in one process (`partition-status.mjs`); beside it the same read of an
// asset of the same partitions with no history.
export function partitionStatusCase({ mkWork, log, knobs }) {
  const rows = [];
  const data = {};
  const now = Date.now();
  const sizes = [
    { unit: 'daily', n: knobs.BENCH_STATUS_DAYS, target: 50, step: 86_400_000 },
    { unit: 'hourly', n: knobs.BENCH_STATUS_HOURS, target: 200, step: 3_600_000 },
  ];
  for (const { unit, n, target, step } of sizes) {
    const work = mkWork(`status-${unit}`);
    const periodStart = Math.floor(now / step) * step - n * step;
    const iso = new Date(periodStart).toISOString();
    const start = unit === 'hourly' ? `${iso.slice(0, 13)}:00` : iso.slice(0, 10);
    const tasks = path.join(work, 'tasks');
    fs.mkdirSync(tasks);
    for (const name of ['big', 'blank'])
      fs.writeFileSync(
        path.join(tasks, `${name}.sql`),
        `-- @partitions_by ${unit}(start=${start})\nCREATE TABLE IF NOT EXISTS ${name} AS SELECT 1 AS x;\n`,
      );
    const db = path.join(work, 'status.duckdb');
    expectOk(runCli(work, ['--db', db, 'register', tasks]), 'register');
    const r = runScript(work, 'partition-status.mjs', [
      db,
      'big',
      'blank',
      unit,
      start.replace('T', ' '),
      String(n),
      String(knobs.BENCH_STATUS_REPEATS),
    ]);
    if (r.total !== n) throw new Error(`${unit}: ${r.total} partitions, expected ${n}`);
    const s = summary(r.samples);
    const e = summary(r.emptySamples);
    log(
      `  ${unit} ${fmtN(n)}: first ${fmtMs(r.firstMs)}, then ${fmtMs(s.median)} (empty ${fmtMs(e.median)}); ${JSON.stringify(r.counts)}, ${r.ranges} ranges`,
    );
    data[unit] = { partitions: n, firstMs: r.firstMs, steady: s, empty: e, counts: r.counts, ranges: r.ranges, maxRssMb: r.maxRssMb };
    rows.push([
      `status of ${fmtN(n)} ${unit} partitions (calendar and missing set), ${r.ranges} ranges`,
      `${r.samples.length} calls`,
      `${fmtMs(s.median)} [${fmtMs(s.min)}–${fmtMs(s.max)}]`,
      `no history: ${fmtMs(e.median)}`,
      fmtRatio(summary(r.samples.map((x, i) => x / r.emptySamples[i]))),
      fmtMb(r.maxRssMb),
      `target < ${target} ms: ${s.median < target ? 'met' : 'missed'}; first call (keeps the ranges) ${fmtMs(r.firstMs)}`,
    ]);
  }
  return { data, rows };
}

// `plan-10k`: `plan` over a project of BENCH_PLAN_TASKS assets (the chained project of the
// chain cases: each task reads up to three earlier ones), in one process (`plan-time.mjs`): with
// nothing materialised (every asset stale), and after a run built them all (nothing stale). The
// baseline beside it is `list` of the same project; target < 500 ms.
export function planCase({ mkWork, log, knobs }, chainedProject) {
  const work = mkWork('plan');
  const n = knobs.BENCH_PLAN_TASKS;
  const tasks = path.join(work, 'tasks');
  chainedProject(tasks, n);
  const db = path.join(work, 'plan.duckdb');
  expectOk(runCli(work, ['--db', db, 'register', tasks]), 'register');
  const list = expectOk(runCli(work, ['--db', db, 'list', '--json']), 'list');
  const r = runScript(work, 'plan-time.mjs', [db, String(knobs.BENCH_STATUS_REPEATS)]);
  if (r.never.stale !== n) throw new Error(`plan: ${r.never.stale} stale of ${n} never materialised`);
  if (r.built.stale !== 0) throw new Error(`plan after a run: ${r.built.stale} stale`);
  const a = summary(r.never.samples);
  const b = summary(r.built.samples);
  log(`  plan of ${fmtN(n)}: all stale ${fmtMs(a.median)}, none stale ${fmtMs(b.median)}; list (whole process) ${fmtMs(list.ms)}`);
  const row = (what, s) => [
    `plan over ${fmtN(n)} assets, ${what} (in process)`,
    `${s.n} calls`,
    `${fmtMs(s.median)} [${fmtMs(s.min)}–${fmtMs(s.max)}]`,
    `list --json (whole process): ${fmtMs(list.ms)}`,
    '—',
    fmtMb(r.maxRssMb),
    `target < 500 ms: ${s.median < 500 ? 'met' : 'missed'}`,
  ];
  return {
    data: { tasks: n, never: a, built: b, listMs: list.ms, maxRssMb: r.maxRssMb },
    rows: [row('every one stale', a), row('none stale', b)],
  };
}

export async function backfillMemoryCase({ mkWork, log, knobs }) {
  const work = mkWork('backfill-memory');
  const n = knobs.BENCH_BACKFILL_MEMORY;
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const start = new Date(today - n * 86_400_000).toISOString().slice(0, 10);
  const tasks = path.join(work, 'tasks');
  fs.mkdirSync(tasks);
  fs.writeFileSync(
    path.join(tasks, 'days.sql'),
    `-- @partitions_by daily(start=${start})\nCREATE TABLE IF NOT EXISTS days (k VARCHAR);\nINSERT INTO days VALUES ($partition_key);\n`,
  );
  const template = path.join(work, 'template.duckdb');
  expectOk(runCli(work, ['--db', template, 'register', tasks]), 'register');
  const sample = (page) => {
    const db = path.join(work, `memory-${page}.duckdb`);
    copyDb(template, db);
    try {
      // Queued by one process, worked by another: the worker's peak is the queue's, not the planning's.
      expectOk(runCli(work, ['--db', db, 'backfill', 'days', '--all', '--enqueue']), 'backfill --enqueue');
      const r = expectOk(
        runCli(work, ['--db', db, 'worker', '--once', '-c', '4'], { env: { DUCKORCH_QUEUE_PAGE: String(page) } }),
        'worker --once',
      );
      const [[done]] = JSON.parse(
        expectOk(
          runCli(work, ['--db', db, 'sql', "SELECT count(*)::INTEGER AS n FROM __orch__.jobs WHERE state = 'succeeded'", '--json']),
          'sql',
        ).stdout,
      ).rows.map((row) => Object.values(row));
      if (Number(done) !== n) throw new Error(`worker: ${done} of ${n} partitions succeeded`);
      return { ms: r.ms, maxRssMb: r.maxRssMb };
    } finally {
      removeDb(db);
    }
  };
  const paged = sample(2000);
  log(`  pages of 2,000: ${fmtMs(paged.ms)}, ${fmtMb(paged.maxRssMb)}`);
  const whole = sample(10_000_000);
  log(`  the whole run in memory: ${fmtMs(whole.ms)}, ${fmtMb(whole.maxRssMb)}`);
  return {
    data: { partitions: n, paged, whole },
    rows: [
      [
        `worker --once -c 4 working a backfill of ${fmtN(n)} daily partitions, embedded ledger, pages of 2,000 (whole process)`,
        '1 each',
        fmtMs(paged.ms),
        `the whole run in memory: ${fmtMs(whole.ms)}`,
        fmtRatio(summary([paged.ms / whole.ms])),
        `${fmtMb(paged.maxRssMb)} / whole ${fmtMb(whole.maxRssMb)}`,
        'jobs not held in memory',
      ],
    ],
  };
}

/** Mixed conditions, one per asset in turn. */
const CONDITIONS = [
  'eager()',
  'on_missing()',
  'eager() AND NOT in_progress()',
  'on_cron("0 6 * * *") OR freshness_violated()',
  '(eager() OR on_missing()) AND NOT in_progress()',
];

export function automationCase({ mkWork, log, knobs }, chainedProject) {
  const work = mkWork('automation');
  const n = knobs.BENCH_PLAN_TASKS;
  const tasks = path.join(work, 'tasks');
  chainedProject(tasks, n);
  // Each task file gets a condition as its first header.
  let i = 0;
  const walk = (dir) => {
    for (const f of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.sql'))
        fs.writeFileSync(p, `-- @automation ${CONDITIONS[i++ % CONDITIONS.length]}\n${fs.readFileSync(p, 'utf8')}`);
    }
  };
  walk(tasks);
  const db = path.join(work, 'automation.duckdb');
  expectOk(runCli(work, ['--db', db, 'register', tasks]), 'register');
  const r = runScript(work, 'automation-time.mjs', [db, String(knobs.BENCH_STATUS_REPEATS)]);
  if (r.assets !== n) throw new Error(`automation status: ${r.assets} assets of ${n}`);
  const total = summary(r.total);
  const evaluation = summary(r.evaluation);
  log(`  ${fmtN(n)} assets (${fmtN(r.met)} met): evaluation ${fmtMs(evaluation.median)}, the whole call ${fmtMs(total.median)}`);
  return {
    data: { assets: n, met: r.met, total, evaluation, maxRssMb: r.maxRssMb },
    rows: [
      [
        `one evaluation of ${fmtN(n)} assets with mixed conditions (in process)`,
        `${evaluation.n} calls`,
        `${fmtMs(evaluation.median)} [${fmtMs(evaluation.min)}–${fmtMs(evaluation.max)}]`,
        `automation status, reading their state too: ${fmtMs(total.median)}`,
        fmtRatio(summary(r.evaluation.map((e, k) => e / r.total[k]))),
        fmtMb(r.maxRssMb),
        `target < 100 ms: ${evaluation.median < 100 ? 'met' : 'missed'}`,
      ],
    ],
  };
}

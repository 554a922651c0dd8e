// `enqueue-many`: 20,000 runs (BENCH_ENQUEUE_RUNS) of a two-task DAG enqueued by an application
// through the client's `enqueueMany`, on the PostgreSQL ledger and on a DuckDB file. Each repeat
// is a process of its own (`bench/enqueue-many.mjs`, peak RSS beside it) on a fresh schema or a
// fresh copy of the file; the time is the `enqueueMany` call alone, measured in that process.
import fs from 'node:fs';
import path from 'node:path';
import { expectOk, fmtMb, fmtMs, fmtN, runCli, runScript, summary } from './lib.mjs';
import { PG_URL } from './pg-cases.mjs';

const num = (key, dflt) => {
  const v = process.env[key] ? Number(process.env[key]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${key} must be a whole number ≥ 1, got ${process.env[key]}`);
  return v;
};

const ETL = `import { Dag } from 'duckorch';
export const etl = new Dag('etl');
etl.task({ name: 'extract', retries: 2 }, async (inputs) => ({ day: inputs?.day ?? null }));
etl.task({ name: 'load', requires: ['extract'] }, async ({ extract }) => ({ loaded: extract.day }));
`;

async function dropSchema(schema) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

export async function enqueueManyCase({ mkWork, log }) {
  const runs = num('BENCH_ENQUEUE_RUNS', 20_000);
  const repeats = num('BENCH_ENQUEUE_REPEATS', 3);
  const work = mkWork('enqueue-many');
  const module = path.join(work, 'etl.mjs');
  fs.writeFileSync(module, ETL);
  const activate = (db, env) =>
    expectOk(runCli(work, ['--db', db, 'snapshot', '--activate', '--dag', `${module}:etl`], { env }), 'snapshot --activate');
  // The DuckDB file once, copied before each repeat.
  const template = path.join(work, 'template.duckdb');
  activate(template, {});
  const rows = [];
  const data = { runs };
  for (const store of ['postgres', 'duckdb']) {
    const samples = [];
    for (let i = 0; i < repeats; i++) {
      let r;
      if (store === 'postgres') {
        const schema = `bench_enq_${Math.random().toString(36).slice(2, 10)}`;
        const env = { DATABASE_URL: PG_URL, DUCKORCH_PG_SCHEMA: schema };
        try {
          expectOk(runCli(work, ['init-db'], { env }), 'init-db');
          activate(path.join(work, 'unused.duckdb'), env);
          r = runScript(work, 'enqueue-many.mjs', [PG_URL, String(runs), schema]);
        } finally {
          await dropSchema(schema);
        }
      } else {
        const db = path.join(work, `run-${i}.duckdb`);
        fs.copyFileSync(template, db);
        try {
          r = runScript(work, 'enqueue-many.mjs', [db, String(runs)]);
        } finally {
          for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
        }
      }
      samples.push(r);
      log(`  ${store} repeat ${i + 1}: ${fmtMs(r.ms)} (process ${fmtMs(r.wallMs)}, ${fmtMb(r.maxRssMb)})`);
    }
    const ms = summary(samples.map((s) => s.ms));
    const wall = summary(samples.map((s) => s.wallMs));
    const rss = summary(samples.map((s) => s.maxRssMb));
    data[store] = { jobs: samples[0].jobs, ms, processMs: wall, rssMb: rss, runsPerSecond: (runs / ms.median) * 1000, samples };
    rows.push([
      `enqueueMany of ${fmtN(runs)} runs (${fmtN(samples[0].jobs)} jobs), ledger in ${store === 'postgres' ? 'PostgreSQL' : 'a DuckDB file'}`,
      `${samples.length} processes`,
      `${fmtMs(ms.median)} [${fmtMs(ms.min)}–${fmtMs(ms.max)}]`,
      '—',
      'n/a',
      fmtMb(rss.median),
      `the call alone, in-process (whole process ${fmtMs(wall.median)}); target under 1 s`,
    ]);
  }
  return { data, rows };
}

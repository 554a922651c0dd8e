// `enqueue-many`: 20,000 runs (BENCH_ENQUEUE_RUNS) of a two-task DAG enqueued by an application
// through the client's `enqueueMany`, on the PostgreSQL ledger and on a DuckDB file. Each sample
// is a process of its own (`bench/enqueue-many.mjs`, peak RSS beside it) on a fresh schema or a
// fresh copy of the file; the time is the `enqueueMany` call alone, measured in that process.
// Paired with the floor (`bench/enqueue-floor.mjs`): the same rows made by the database itself.
import fs from 'node:fs';
import path from 'node:path';
import { alternate, expectOk, fmtMb, fmtMs, fmtN, fmtRatio, runCli, runScript, summary } from './lib.mjs';
import { PG_URL } from './pg-cases.mjs';

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

export async function enqueueManyCase({ mkWork, log, knobs }) {
  const runs = knobs.BENCH_ENQUEUE_RUNS;
  const repeats = knobs.BENCH_ENQUEUE_REPEATS;
  const work = mkWork('enqueue-many');
  const module = path.join(work, 'etl.mjs');
  fs.writeFileSync(module, ETL);
  const activate = (db, env) =>
    expectOk(runCli(work, ['--db', db, 'snapshot', '--activate', '--dag', `${module}:etl`], { env }), 'snapshot --activate');
  // The DuckDB file once, copied before each sample.
  const template = path.join(work, 'template.duckdb');
  activate(template, {});
  const pending = [];
  /** One sample of `script` on a fresh ledger: a new schema (made ready by the CLI), or a copy of the file. */
  const sample = (store, script) => (i) => {
    if (store === 'postgres') {
      const schema = `bench_enq_${Math.random().toString(36).slice(2, 10)}`;
      const env = { DATABASE_URL: PG_URL, DUCKORCH_PG_SCHEMA: schema };
      pending.push(schema);
      expectOk(runCli(work, ['init-db'], { env }), 'init-db');
      activate(path.join(work, 'unused.duckdb'), env);
      return runScript(work, script, [PG_URL, String(runs), schema]);
    }
    const db = path.join(work, `${script}-${i}.duckdb`);
    fs.copyFileSync(template, db);
    try {
      return runScript(work, script, [db, String(runs)]);
    } finally {
      for (const f of [db, `${db}.wal`]) fs.rmSync(f, { force: true });
    }
  };
  const rows = [];
  const data = { runs };
  try {
    for (const store of ['postgres', 'duckdb']) {
      const pairs = alternate(repeats, sample(store, 'enqueue-floor.mjs'), sample(store, 'enqueue-many.mjs'));
      for (const [i, { a, b }] of pairs.entries())
        log(`  ${store} pair ${i + 1}: enqueueMany ${fmtMs(b.ms)}, floor ${fmtMs(a.ms)} (${fmtMb(b.maxRssMb)})`);
      const ms = summary(pairs.map((p) => p.b.ms));
      const floor = summary(pairs.map((p) => p.a.ms));
      const ratio = summary(pairs.map((p) => p.b.ms / p.a.ms));
      const wall = summary(pairs.map((p) => p.b.wallMs));
      const rss = summary(pairs.map((p) => p.b.maxRssMb));
      data[store] = {
        jobs: pairs[0].b.jobs,
        ms,
        floorMs: floor,
        ratio,
        processMs: wall,
        rssMb: rss,
        runsPerSecond: (runs / ms.median) * 1000,
        pairs,
      };
      rows.push([
        `enqueueMany of ${fmtN(runs)} runs (${fmtN(pairs[0].b.jobs)} jobs), ledger in ${store === 'postgres' ? 'PostgreSQL' : 'a DuckDB file'}`,
        `${pairs.length} pairs`,
        `${fmtMs(ms.median)} [${fmtMs(ms.min)}–${fmtMs(ms.max)}]`,
        `floor: ${fmtMs(floor.median)}`,
        fmtRatio(ratio),
        fmtMb(rss.median),
        `the call alone, in-process (whole process ${fmtMs(wall.median)}); floor: the same rows made by the database from a series; target under 1 s`,
      ]);
    }
  } finally {
    for (const schema of pending) await dropSchema(schema);
  }
  return { data, rows };
}

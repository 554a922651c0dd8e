// One benchmark case, run in its own process so that its peak RSS is its own.
// Usage: node bench/case.mjs <case> <workdir>; prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Project, loadConfig } from '../dist/index.js';
import { splitStatements } from '../dist/sql/tokenizer.js';
import { DEFAULT_WATERMARK, substituteVariables } from '../dist/model/templating.js';
import { registrationCorpus, scaledShop, trivialDag } from './workloads.mjs';

const [name, work] = process.argv.slice(2);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function open(db, access) {
  return Project.open({ config: loadConfig({ flags: { db }, env: {} }), access });
}

/** Registers `tasks` into a fresh database and returns the run order with each task's SQL. */
async function prepare(tasks, db) {
  const project = await open(db, 'create');
  await project.register(tasks);
  const { tasks: registered, selected } = await project.select({});
  await project.close();
  const byName = new Map(registered.map((t) => [t.definition.name, t.definition]));
  return selected.map((n) => byName.get(n));
}

/** Each repeat on a fresh database, so that every repeat (and the raw baseline) does the same work. */
async function timeDuckorch(tasks, db, maxParallel) {
  const times = [];
  let count = 0;
  for (let i = 0; i < REPEATS; i++) {
    const file = `${db}.${i}`;
    count = (await prepare(tasks, file)).length;
    const project = await open(file, 'write');
    const t0 = performance.now();
    const result = await project.run({ maxParallel });
    times.push(performance.now() - t0);
    await project.close();
    if (result.pipelineRun.status !== 'success')
      throw new Error(`run failed: ${JSON.stringify(result.tasks.find((t) => t.status !== 'success'))}`);
  }
  return { ms: median(times), tasks: count };
}

/** The same statements, in the same order, executed directly through @duckdb/node-api on one connection. */
async function timeRaw(tasks, db) {
  const order = await prepare(tasks, `${db}.plan`);
  const variables = { last_processed_at: DEFAULT_WATERMARK, now: '2026-01-01 00:00:00', run_id: 'bench' };
  // The task bodies and their @test queries: the work a run does apart from orchestrating it.
  const statements = order.flatMap((t) => [
    ...splitStatements(t.sql).map((s) => substituteVariables(s.text, variables)),
    ...t.tests.map((test) => (test.assertion.kind.endsWith('empty') ? `SELECT count(*) FROM (${test.sql})` : test.sql)),
  ]);
  const schemas = new Set(order.flatMap((t) => t.outputs.filter((o) => o.split('.').length === 2).map((o) => o.split('.')[0])));
  const times = [];
  for (let i = 0; i < REPEATS; i++) {
    const instance = await DuckDBInstance.create(`${db}.${i}`);
    const conn = await instance.connect();
    for (const s of schemas) await conn.run(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    const t0 = performance.now();
    for (const sql of statements) await conn.run(sql);
    times.push(performance.now() - t0);
    conn.closeSync();
    instance.closeSync();
  }
  return { ms: median(times), tasks: order.length };
}

async function timeRegister(tasks, db) {
  const times = [];
  let files = 0;
  for (let i = 0; i < REPEATS; i++) {
    fs.rmSync(db, { force: true });
    const t0 = performance.now();
    const project = await open(db, 'create');
    const result = await project.register(tasks);
    await project.close();
    times.push(performance.now() - t0);
    files = result.files;
  }
  return { ms: median(times), files };
}

const cases = {
  'trivial-duckorch': () => timeDuckorch(trivialDag(path.join(work, 'tasks')), path.join(work, 'db.duckdb'), 1),
  'trivial-duckorch-p4': () => timeDuckorch(trivialDag(path.join(work, 'tasks')), path.join(work, 'db.duckdb'), 4),
  'trivial-raw': () => timeRaw(trivialDag(path.join(work, 'tasks')), path.join(work, 'db.duckdb')),
  'shop-duckorch': () =>
    timeDuckorch(scaledShop(path.join(work, 'tasks'), Number(process.env.BENCH_SHOP_FACTOR ?? 400)), path.join(work, 'db.duckdb'), 1),
  'shop-duckorch-p4': () =>
    timeDuckorch(scaledShop(path.join(work, 'tasks'), Number(process.env.BENCH_SHOP_FACTOR ?? 400)), path.join(work, 'db.duckdb'), 4),
  'shop-raw': () =>
    timeRaw(scaledShop(path.join(work, 'tasks'), Number(process.env.BENCH_SHOP_FACTOR ?? 400)), path.join(work, 'db.duckdb')),
  register: () => timeRegister(registrationCorpus(path.join(work, 'tasks')), path.join(work, 'db.duckdb')),
};

const result = await cases[name]();
const maxRssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ case: name, ...result, maxRssMb }) + '\n');

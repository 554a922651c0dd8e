// The raw DuckDB baseline: the statements and @test queries of a plan (written by plan.mjs), run
// straight through @duckdb/node-api with no orchestrator. It imports nothing of duck-orch, so the
// peak RSS of this process is raw DuckDB's own.
// Usage: node bench/raw.mjs <plan.json> <db> seq|<connections>
//   seq: every statement in run order on one connection, autocommit.
//   <n>: n connections; each task's statements and tests in one transaction on one connection;
//        a task starts once all its upstream tasks committed; ready tasks start in name order
//        (as duck-orch's scheduler does); transaction conflicts are rolled back and retried.
// Prints one JSON line: { ms (the run, excluding opening and closing the database), closeMs, tasks,
// statements, rows, conflicts }.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [planFile, db, mode] = process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planFile, 'utf8'));

// Statement types whose `Count` column is the number of rows changed, as duck-orch counts them:
// INSERT, UPDATE, DELETE, CREATE, COPY, MERGE_INTO.
const COUNTING = new Set([2, 3, 5, 7, 11, 30]);
function rowsAffected(result) {
  if (!COUNTING.has(result.statementType) || result.columnCount !== 1 || result.columnName(0) !== 'Count' || result.chunkCount === 0)
    return 0;
  return Number(result.getChunk(0).getColumnValues(0)[0] ?? 0);
}

/** A bare query: run to completion, rows streamed and dropped (as duck-orch does). */
async function drain(conn, sql) {
  const result = await conn.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    /* discard */
  }
}

/** A @test query, reading only what its assertion needs; throws when the assertion fails. */
async function check(conn, test) {
  const query = test.sql.trim().replace(/;+\s*$/, '');
  const a = test.assertion;
  if (a.kind === 'expect_empty' || a.kind === 'expect_non_empty') {
    const n = Number((await conn.runAndReadAll(`SELECT count(*) FROM (${query}) AS raw_test`)).getRows()[0][0]);
    if ((a.kind === 'expect_empty') !== (n === 0)) throw new Error(`@test failed: ${test.sql} (${a.kind}, ${n} rows)`);
    return;
  }
  const rows = (await conn.streamAndReadUntil(query, 1)).getRows();
  const v = rows.length === 0 || rows[0][0] === null ? 0 : Number(rows[0][0]);
  const ok = a.kind === 'expect' ? v === a.value : a.kind === 'expect_gt' ? v > a.value : v < a.value;
  if (!ok) throw new Error(`@test failed: ${test.sql} (${a.kind} ${a.value}, got ${v})`);
}

const isConflict = (err) => /conflict/i.test(String(err?.message ?? err));

const instance = await DuckDBInstance.create(db);
const setup = await instance.connect();
for (const s of plan.schemas) await setup.run(`CREATE SCHEMA IF NOT EXISTS ${s}`);
setup.closeSync();

let rows = 0;
let statements = 0;
let conflicts = 0;
let ms;

// The cheapest atomic record of each task DuckDB allows, duck-orch's floor: a connection of its
// own per task (as a worker gives each attempt), one transaction holding the task's statements,
// its tests and one narrow record row (what duck-orch journals), committed with the last round trip.
const RECORD = `'${JSON.stringify({ job_id: '00000000-0000-4000-8000-000000000000', outcome: 'succeeded', pad: 'x'.repeat(500) })}'`;

if (mode === 'seq-atomic') {
  const setup2 = await instance.connect();
  await setup2.run('CREATE TABLE IF NOT EXISTS raw_journal (record VARCHAR NOT NULL)');
  setup2.closeSync();
  const t0 = performance.now();
  for (const task of plan.tasks) {
    const conn = await instance.connect();
    let begin = 'BEGIN TRANSACTION;\n';
    for (const s of task.statements) {
      if (s.isQuery) {
        if (begin) await conn.run(begin);
        await drain(conn, s.sql);
      } else rows += rowsAffected(await conn.run(begin + s.sql));
      begin = '';
      statements++;
    }
    if (begin) await conn.run(begin);
    for (const test of task.tests) await check(conn, test);
    await conn.run(`INSERT INTO raw_journal VALUES (${RECORD});\nCOMMIT`);
    conn.closeSync();
  }
  ms = performance.now() - t0;
} else if (mode === 'seq') {
  const conn = await instance.connect();
  const t0 = performance.now();
  for (const task of plan.tasks) {
    for (const s of task.statements) {
      if (s.isQuery) await drain(conn, s.sql);
      else rows += rowsAffected(await conn.run(s.sql));
      statements++;
    }
    for (const test of task.tests) await check(conn, test);
  }
  ms = performance.now() - t0;
  conn.closeSync();
} else {
  const parallel = Number(mode);
  if (!Number.isInteger(parallel) || parallel < 1) throw new Error(`mode must be seq or a number of connections, got ${mode}`);
  const conns = [];
  for (let i = 0; i < parallel; i++) conns.push(await instance.connect());
  const byName = new Map(plan.tasks.map((t) => [t.name, t]));
  const downstream = new Map(plan.tasks.map((t) => [t.name, []]));
  const waiting = new Map();
  for (const t of plan.tasks) {
    waiting.set(t.name, t.upstream.length);
    for (const u of t.upstream) downstream.get(u).push(t.name);
  }
  const ready = plan.tasks
    .filter((t) => t.upstream.length === 0)
    .map((t) => t.name)
    .sort();
  const insertSorted = (name) => {
    let i = ready.length;
    while (i > 0 && ready[i - 1].localeCompare(name) > 0) i--;
    ready.splice(i, 0, name);
  };

  /** One task: BEGIN rides with the first statement (as in duck-orch), tests before COMMIT. */
  async function runTask(conn, task) {
    for (;;) {
      let taskRows = 0;
      try {
        let begin = 'BEGIN TRANSACTION;\n';
        for (const s of task.statements) {
          if (s.isQuery) {
            if (begin) await conn.run(begin);
            await drain(conn, s.sql);
          } else taskRows += rowsAffected(await conn.run(begin + s.sql));
          begin = '';
        }
        if (begin) await conn.run(begin);
        for (const test of task.tests) await check(conn, test);
        await conn.run('COMMIT');
        rows += taskRows;
        statements += task.statements.length;
        return;
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        if (!isConflict(err) || ++conflicts > 1000) throw err;
      }
    }
  }

  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    let done = 0;
    const free = [...conns];
    const pump = () => {
      while (free.length > 0 && ready.length > 0) {
        const conn = free.pop();
        const name = ready.shift();
        runTask(conn, byName.get(name)).then(() => {
          free.push(conn);
          done++;
          for (const d of downstream.get(name)) {
            const left = waiting.get(d) - 1;
            waiting.set(d, left);
            if (left === 0) insertSorted(d);
          }
          if (done === plan.tasks.length) resolve();
          else pump();
        }, reject);
      }
    };
    if (plan.tasks.length === 0) resolve();
    else pump();
  });
  ms = performance.now() - t0;
  for (const c of conns) c.closeSync();
}
// Closing checkpoints the database: timed apart, as it can be most of the work at scale.
const c0 = performance.now();
instance.closeSync();
const closeMs = performance.now() - c0;
process.stdout.write(JSON.stringify({ ms, closeMs, tasks: plan.tasks.length, statements, rows, conflicts }) + '\n');

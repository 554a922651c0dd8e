// The `history` case's generator: writes `tasks` × `partitions` finished task runs straight into
// the ledger tables of a project database that is already registered (plan.mjs's or
// register-case.mjs's), with SQL, as the embedded ledger would have written them had every
// partition been run once: one run per partition (`pipeline_runs`), one job per task in it
// (`jobs`), one attempt per job (`attempts`), one materialisation of the task's asset
// (`asset_materializations`) and the latest state per task × partition and asset × partition
// (`task_state`, `asset_state`, `asset_latest`). Task `t_042` materialises asset `asset_042`; partition keys are
// days from 2026-01-01; one job in 200 is dead (its run `failed`), the rest succeeded, and a
// success records a watermark (`last_processed_at`) `<partition> 23:59:59`.
// Usage: node bench/history-gen.mjs <db> <tasks> <partitions>
// Prints one JSON line: { ms, tasks, partitions, jobs, dead, bytes, steps: { table: ms } }.
import fs from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [db, tasksArg, partitionsArg] = process.argv.slice(2);
const tasks = Number(tasksArg);
const partitions = Number(partitionsArg);
if (!(tasks > 0 && tasks <= 1000 && partitions > 0)) throw new Error(`usage: history-gen.mjs <db> <tasks ≤ 1000> <partitions>`);

// Deterministic: a job is dead when this is true (one in 200).
const DEAD = `hash(t.t * 100003 + r.p) % 200 = 0`;

const t0 = performance.now();
const instance = await DuckDBInstance.create(db);
const conn = await instance.connect();
const steps = {};
async function step(name, sql) {
  const s0 = performance.now();
  await conn.run(sql);
  steps[name] = Math.round(performance.now() - s0);
}

const snapshot = (await conn.runAndReadAll('SELECT snapshot_id FROM __orch__.snapshots LIMIT 1')).getRows()[0]?.[0] ?? null;
const codeVersions = (await conn.runAndReadAll('SELECT count(*) FROM __orch__.tasks')).getRows()[0][0];
if (Number(codeVersions) !== tasks) throw new Error(`the database has ${codeVersions} registered tasks, expected ${tasks}`);

await conn.run('BEGIN');
// Runs: partition p ran at 01:00 on the day after it, its tasks one after another, 50 ms each.
await step(
  'generate',
  `CREATE TEMP TABLE gen AS
   SELECT r.p, t.t, r.run_id, uuid()::VARCHAR AS job_id,
     printf('t_%03d', t.t) AS task_name, printf('asset_%03d', t.t) AS asset_name,
     strftime(DATE '2026-01-01' + r.p::INTEGER, '%Y-%m-%d') AS partition_key,
     r.created_at,
     r.created_at + to_milliseconds(t.t * 50 + 5) AS started_at,
     r.created_at + to_milliseconds(t.t * 50 + 45) AS finished_at,
     CASE WHEN ${DEAD} THEN 'dead' ELSE 'succeeded' END AS state,
     tk.code_version
   FROM (SELECT range AS p, uuid()::VARCHAR AS run_id,
           TIMESTAMP '2026-01-02 01:00:00' + to_days(range::INTEGER) AS created_at
         FROM range(${partitions})) AS r
   CROSS JOIN (SELECT range AS t FROM range(${tasks})) AS t
   JOIN (SELECT name AS tn, code_version FROM __orch__.tasks) AS tk ON tk.tn = printf('t_%03d', t.t)
   ORDER BY r.p, t.t`,
);
// Every column of each ledger table, named, with the value the embedded ledger writes for such a
// run (a `run` of the registry: trigger `run`, no selector, inputs `null`, no DAG, metadata `{}`).
// A column the generator does not know (a later migration's) fails here rather than in the INSERT.
async function insert(table, columns, from) {
  const actual = (
    await conn.runAndReadAll(
      `SELECT column_name FROM duckdb_columns() WHERE schema_name = '__orch__' AND table_name = '${table}' ORDER BY column_index`,
    )
  )
    .getRows()
    .map(([c]) => c);
  const missing = actual.filter((c) => !(c in columns));
  const unknown = Object.keys(columns).filter((c) => !actual.includes(c));
  if (missing.length || unknown.length)
    throw new Error(
      `history-gen.mjs is out of date with __orch__.${table}: ` +
        [missing.length ? `no value for ${missing.join(', ')}` : '', unknown.length ? `no column ${unknown.join(', ')}` : '']
          .filter(Boolean)
          .join('; ') +
        ' (see src/store/duckdb/migrations/ and what duckdb-ledger.ts writes)',
    );
  await step(
    table,
    `INSERT INTO __orch__.${table} (${Object.keys(columns).join(', ')})
     SELECT ${Object.values(columns).join(', ')} ${from}`,
  );
}
const ok = (value, otherwise = 'NULL') => `CASE state WHEN 'succeeded' THEN ${value} ELSE ${otherwise} END`;
const ERROR = `'Binder Error: Table with name upstream_gone does not exist!'`;
const WATERMARK = `partition_key || ' 23:59:59'`;
const anyDead = `count(*) FILTER (WHERE state = 'dead') > 0`;

await insert(
  'pipeline_runs',
  {
    pipeline_run_id: 'run_id',
    snapshot_id: snapshot === null ? 'NULL' : `'${snapshot}'`,
    trigger: `'run'`,
    selector: 'NULL',
    inputs_json: `'null'`,
    state: `CASE WHEN ${anyDead} THEN 'failed' ELSE 'succeeded' END`,
    created_at: 'min(created_at)',
    started_at: 'min(started_at)',
    finished_at: 'max(finished_at)',
    task_count: 'count(*)::INTEGER',
    job_counts_json: `CASE WHEN ${anyDead}
       THEN json_object('succeeded', count(*) FILTER (WHERE state = 'succeeded'), 'dead', count(*) FILTER (WHERE state = 'dead'))::VARCHAR
       ELSE json_object('succeeded', count(*))::VARCHAR END`,
    planned_tasks: 'list(task_name ORDER BY t)',
    dag_name: 'NULL',
    metadata_json: `'{}'`,
  },
  'FROM gen GROUP BY run_id, p ORDER BY p',
);
await insert(
  'jobs',
  {
    job_id: 'job_id',
    pipeline_run_id: 'run_id',
    task_name: 'task_name',
    partition_key: 'partition_key',
    state: 'state',
    attempts: '1',
    max_attempts: '1',
    run_at: 'created_at',
    lease_owner: 'NULL',
    lease_expires_at: 'NULL',
    created_at: 'created_at',
    started_at: 'started_at',
    finished_at: 'finished_at',
    updated_at: 'finished_at',
    upstream: '[]::VARCHAR[]',
    rows_count: ok('1'),
    result_json: 'NULL',
    last_processed_at: ok(WATERMARK),
    error_message: ok('NULL', ERROR),
    error_context_json: 'NULL',
    code_version: 'code_version',
    // SQL tasks write the database: a job carries its id (the embedded ledger keeps none per job).
    database_id: "'history'",
    cancel_requested: 'false',
  },
  'FROM gen ORDER BY p, t',
);
await insert(
  'attempts',
  {
    attempt_seq: 'row_number() OVER (ORDER BY p, t)',
    job_id: 'job_id',
    pipeline_run_id: 'run_id',
    task_name: 'task_name',
    partition_key: 'partition_key',
    attempt: '1',
    worker: `'run-1-' || left(run_id, 8)`,
    started_at: 'started_at',
    finished_at: 'finished_at',
    outcome: ok(`'succeeded'`, `'failed'`),
    job_state: 'state',
    rows_count: ok('1'),
    result_json: 'NULL',
    last_processed_at: ok(WATERMARK),
    error_message: ok('NULL', ERROR),
    error_context_json: 'NULL',
    code_version: 'code_version',
    assets: '[asset_name]',
  },
  'FROM gen ORDER BY p, t',
);
await insert(
  'asset_materializations',
  {
    asset_name: 'asset_name',
    partition_key: 'partition_key',
    status: ok(`'succeeded'`, `'failed'`),
    rows: ok('1'),
    bytes: 'NULL',
    code_version: 'code_version',
    run_id: 'run_id',
    job_id: 'job_id',
    attempt: '1',
    task_name: 'task_name',
    started_at: 'started_at',
    finished_at: 'finished_at',
    materialized_at: 'finished_at',
  },
  'FROM gen ORDER BY p, t',
);
// The latest state, in the order the ledger's upserts would have left it (one flush per run).
await insert(
  'task_state',
  {
    task_name: 'task_name',
    partition_key: 'partition_key',
    state: 'state',
    updated_at: 'finished_at',
    last_success_at: ok('finished_at'),
    last_processed_at: ok(WATERMARK),
    pipeline_run_id: 'run_id',
    job_id: 'job_id',
    rows_count: ok('1'),
    code_version: 'code_version',
  },
  'FROM gen ORDER BY p, t',
);
await insert(
  'asset_state',
  {
    asset_name: 'asset_name',
    partition_key: 'partition_key',
    state: 'state',
    updated_at: 'finished_at',
    last_success_at: ok('finished_at'),
    pipeline_run_id: 'run_id',
    job_id: 'job_id',
    rows_count: ok('1'),
    code_version: 'code_version',
  },
  'FROM gen ORDER BY p, t',
);
// Each asset's latest over its partitions, as the ledger keeps it when jobs settle.
await step(
  'asset_latest',
  `INSERT INTO __orch__.asset_latest
   SELECT asset_name, arg_max(partition_key, updated_at), arg_max(state, updated_at), max(updated_at), max(last_success_at),
     arg_max(pipeline_run_id, updated_at), arg_max(job_id, updated_at), arg_max(rows_count, updated_at), arg_max(code_version, updated_at)
   FROM __orch__.asset_state GROUP BY asset_name`,
);
const dead = Number((await conn.runAndReadAll(`SELECT count(*) FROM gen WHERE state = 'dead'`)).getRows()[0][0]);
await conn.run('DROP TABLE gen');
await step('commit', 'COMMIT');
await step('checkpoint', 'CHECKPOINT');
const counts = Object.fromEntries(
  (
    await conn.runAndReadAll(
      `SELECT 'jobs', count(*) FROM __orch__.jobs UNION ALL SELECT 'attempts', count(*) FROM __orch__.attempts
       UNION ALL SELECT 'task_state', count(*) FROM __orch__.task_state UNION ALL SELECT 'asset_state', count(*) FROM __orch__.asset_state
       UNION ALL SELECT 'pipeline_runs', count(*) FROM __orch__.pipeline_runs`,
    )
  )
    .getRows()
    .map(([k, n]) => [k, Number(n)]),
);
conn.closeSync();
instance.closeSync();
const ms = performance.now() - t0;
const bytes = fs.statSync(db).size + (fs.existsSync(`${db}.wal`) ? fs.statSync(`${db}.wal`).size : 0);
process.stdout.write(JSON.stringify({ ms, tasks, partitions, jobs: tasks * partitions, dead, counts, bytes, steps }) + '\n');

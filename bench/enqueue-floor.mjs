// The floor under `enqueue-many`: the same rows — N runs and their 2·N jobs, with their indexes,
// foreign keys and one commit — made by the database itself from `generate_series` / `range`,
// no client, no planning, nothing sent. What the ledger's tables cost at least for that batch.
// Usage: node bench/enqueue-floor.mjs <postgres-url | duckdb-file> <runs> [schema]
// Prints one JSON line: { ms, runs, jobs }.
const [target, count, schema] = process.argv.slice(2);
const n = Number(count);
let ms;
if (/^postgres/.test(target)) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: target });
  await client.connect();
  const s = `"${schema}"`;
  try {
    const snap = (await client.query(`SELECT snapshot_id FROM ${s}.active_dags WHERE dag_name = 'etl'`)).rows[0].snapshot_id;
    const t0 = performance.now();
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ${s}.runs (run_id, created_at, snapshot_id, trigger, inputs, planned_tasks, dag_name, metadata)
       SELECT gen_random_uuid()::text, now(), $1, 'enqueue', jsonb_build_object('order', g, 'day', '2026-12-01'), '{extract,load}', 'etl', '{"source": "bench"}'
       FROM generate_series(1, $2) g`,
      [snap, n],
    );
    await client.query(
      `INSERT INTO ${s}.jobs (job_id, run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at, updated_at,
         upstream, waiting, downstream, dag_name)
       SELECT gen_random_uuid()::text, run_id, t.task, '__default__', 'pending', 0, t.attempts, now(), now(), now(), t.up, t.waiting, '{}', 'etl'
       FROM ${s}.runs, (VALUES ('extract', 3, '{}'::text[], 0), ('load', 1, '{extract}'::text[], 1)) AS t(task, attempts, up, waiting)`,
    );
    await client.query('COMMIT');
    ms = performance.now() - t0;
  } finally {
    await client.end();
  }
} else {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(target);
  const conn = await instance.connect();
  try {
    const t0 = performance.now();
    await conn.run('BEGIN TRANSACTION');
    await conn.run(
      `INSERT INTO __orch__.pipeline_runs (pipeline_run_id, snapshot_id, trigger, selector, inputs_json, state, created_at, task_count,
         job_counts_json, planned_tasks, dag_name, metadata_json)
       SELECT uuid()::VARCHAR, (SELECT snapshot_id FROM __orch__.active_dags WHERE dag_name = 'etl'), 'enqueue', NULL,
         json_object('order', g, 'day', '2026-12-01')::VARCHAR, 'queued', now()::TIMESTAMP, 2, '{"pending":2}', ['extract', 'load'], 'etl',
         '{"source":"bench"}'
       FROM range(${n}) r(g)`,
    );
    await conn.run(
      `INSERT INTO __orch__.jobs (job_id, pipeline_run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at,
         updated_at, upstream, cancel_requested)
       SELECT uuid()::VARCHAR, pipeline_run_id, t.task, '__default__', 'pending', 0, t.attempts, now()::TIMESTAMP, now()::TIMESTAMP,
         now()::TIMESTAMP, t.up, false
       FROM __orch__.pipeline_runs, (VALUES ('extract', 3, []::VARCHAR[]), ('load', 1, ['extract'])) AS t(task, attempts, up)`,
    );
    await conn.run('COMMIT');
    ms = performance.now() - t0;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
process.stdout.write(JSON.stringify({ ms, runs: n, jobs: 2 * n }) + '\n');

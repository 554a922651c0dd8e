/**
 * The PostgreSQL ledger's tables, as numbered migrations rendered into a configurable schema.
 * The same rows as the embedded ledger's (see `duckdb/migrations/0003_jobs_ledger.sql`), plus
 * what many workers on many machines need: a `waiting` count per job (its upstream jobs not yet
 * succeeded or skipped), kept in the same transaction as each completion, and a partial index on
 * the jobs that are ready — so a claim reads ready jobs only, whatever the backlog.
 */

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface PgMigration {
  id: number;
  name: string;
  sql: (schema: string) => string;
}

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    id: 1,
    name: 'jobs_ledger',
    sql: (s) => `
CREATE TABLE ${s}.definitions (
  definition_hash  text PRIMARY KEY,
  task_name        text NOT NULL,
  kind             text NOT NULL,
  definition_json  jsonb NOT NULL
);
CREATE TABLE ${s}.snapshots (
  snapshot_id  text PRIMARY KEY,
  created_at   timestamptz NOT NULL,
  task_count   integer NOT NULL
);
CREATE TABLE ${s}.snapshot_tasks (
  snapshot_id      text NOT NULL REFERENCES ${s}.snapshots ON DELETE CASCADE,
  task_name        text NOT NULL,
  definition_hash  text NOT NULL REFERENCES ${s}.definitions,
  upstream         text[] NOT NULL,
  PRIMARY KEY (snapshot_id, task_name)
);
CREATE TABLE ${s}.runs (
  run_id         text PRIMARY KEY,
  snapshot_id    text REFERENCES ${s}.snapshots,
  trigger        text NOT NULL,
  selector       text,
  inputs         jsonb,
  created_at     timestamptz NOT NULL,
  planned_tasks  text[] NOT NULL
);
CREATE INDEX runs_created ON ${s}.runs (created_at DESC);
CREATE TABLE ${s}.jobs (
  job_id            text PRIMARY KEY,
  run_id            text NOT NULL REFERENCES ${s}.runs ON DELETE CASCADE,
  task_name         text NOT NULL,
  partition_key     text NOT NULL,
  state             text NOT NULL CHECK (state IN ('pending', 'processing', 'succeeded', 'failed', 'dead', 'skipped', 'blocked', 'cancelled')),
  attempts          integer NOT NULL,
  max_attempts      integer NOT NULL,
  run_at            timestamptz NOT NULL,
  lease_owner       text,
  lease_expires_at  timestamptz,
  created_at        timestamptz NOT NULL,
  started_at        timestamptz,
  finished_at       timestamptz,
  updated_at        timestamptz NOT NULL,
  upstream          text[] NOT NULL,
  waiting           integer NOT NULL,
  rows_count        bigint,
  result            jsonb,
  last_processed_at text,
  error_message     text,
  error_context     jsonb,
  code_version      text,
  UNIQUE (run_id, task_name, partition_key)
);
-- Only ready jobs are in this index: a claim never reads the backlog.
CREATE INDEX jobs_ready ON ${s}.jobs (run_at, created_at) WHERE state IN ('pending', 'failed') AND waiting = 0;
CREATE INDEX jobs_leases ON ${s}.jobs (lease_expires_at) WHERE state = 'processing';
-- Blocked jobs whose upstream recovered: unblocked right after the completion, or by the next reap.
CREATE INDEX jobs_unblockable ON ${s}.jobs (job_id) WHERE state = 'blocked' AND waiting = 0;
CREATE INDEX jobs_task ON ${s}.jobs (task_name, updated_at DESC);
CREATE INDEX jobs_updated ON ${s}.jobs (updated_at DESC);
CREATE TABLE ${s}.attempts (
  attempt_seq       bigserial PRIMARY KEY,
  job_id            text NOT NULL,
  run_id            text NOT NULL,
  task_name         text NOT NULL,
  partition_key     text NOT NULL,
  attempt           integer NOT NULL,
  worker            text NOT NULL,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL,
  outcome           text NOT NULL,
  job_state         text NOT NULL,
  rows_count        bigint,
  result            jsonb,
  last_processed_at text,
  error_message     text,
  error_context     jsonb,
  code_version      text,
  assets            text[] NOT NULL
);
CREATE INDEX attempts_job ON ${s}.attempts (job_id);
CREATE INDEX attempts_failed ON ${s}.attempts (finished_at) WHERE outcome = 'failed';
CREATE TABLE ${s}.asset_materializations (
  asset_name       text NOT NULL,
  partition_key    text NOT NULL,
  materialized_at  timestamptz NOT NULL,
  job_id           text NOT NULL,
  rows             bigint,
  status           text NOT NULL,
  run_id           text NOT NULL,
  task_name        text NOT NULL,
  code_version     text
);
CREATE TABLE ${s}.task_state (
  task_name          text NOT NULL,
  partition_key      text NOT NULL,
  state              text NOT NULL,
  updated_at         timestamptz NOT NULL,
  last_success_at    timestamptz,
  last_processed_at  text,
  run_id             text NOT NULL,
  job_id             text NOT NULL,
  rows_count         bigint,
  code_version       text,
  PRIMARY KEY (task_name, partition_key)
);
CREATE TABLE ${s}.asset_state (
  asset_name       text NOT NULL,
  partition_key    text NOT NULL,
  state            text NOT NULL,
  updated_at       timestamptz NOT NULL,
  last_success_at  timestamptz,
  run_id           text NOT NULL,
  job_id           text NOT NULL,
  rows_count       bigint,
  code_version     text,
  PRIMARY KEY (asset_name, partition_key)
);
`,
  },
  {
    id: 2,
    name: 'dags_and_run_metadata',
    sql: (s) => `
-- The DAG a run was planned for (its workers claim only its jobs), kept on every job too so that
-- a claim filters on the ready index's rows without a join; and the caller's metadata.
ALTER TABLE ${s}.runs ADD COLUMN dag_name text, ADD COLUMN metadata jsonb NOT NULL DEFAULT '{}';
ALTER TABLE ${s}.jobs ADD COLUMN dag_name text;
-- Every snapshot taken of a DAG's code, and where a worker loads that code from.
CREATE TABLE ${s}.dag_snapshots (
  dag_name     text NOT NULL,
  snapshot_id  text NOT NULL REFERENCES ${s}.snapshots,
  module       text NOT NULL,
  export_name  text NOT NULL,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (dag_name, snapshot_id)
);
-- What \`--dag <name>\` means: the DAG's active snapshot (Orchex's current_dag_version setting).
CREATE TABLE ${s}.active_dags (
  dag_name      text PRIMARY KEY,
  snapshot_id   text NOT NULL,
  activated_at  timestamptz NOT NULL,
  FOREIGN KEY (dag_name, snapshot_id) REFERENCES ${s}.dag_snapshots
);
`,
  },
  {
    id: 3,
    name: 'database_leases',
    sql: (s) => `
-- The DuckDB database a job writes (the id kept inside the file), NULL for jobs that touch none:
-- only the worker holding that database's lease claims the job.
ALTER TABLE ${s}.jobs ADD COLUMN database_id text;
-- What a worker holding no database may claim, without reading the ready jobs of databases.
CREATE INDEX jobs_ready_without_database ON ${s}.jobs (run_at, created_at)
  WHERE state IN ('pending', 'failed') AND waiting = 0 AND database_id IS NULL;
-- One row per DuckDB database being worked: DuckDB lets one process write a file, so one worker
-- at a time holds it, renewing with its heartbeat; an expired row is anyone's to take.
CREATE TABLE ${s}.database_leases (
  database_id  text PRIMARY KEY,
  worker       text NOT NULL,
  acquired_at  timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
`,
  },
  {
    id: 4,
    name: 'jobs_downstream',
    // Each job lists the ids of the jobs of its run that wait for it, so a completion decrements
    // exactly those by primary key instead of scanning its run (O(run) per completion before).
    sql: (s) => `
ALTER TABLE ${s}.jobs ADD COLUMN downstream text[] NOT NULL DEFAULT '{}';
UPDATE ${s}.jobs j SET downstream = ARRAY(
  SELECT d.job_id FROM ${s}.jobs d
  WHERE d.run_id = j.run_id AND j.task_name = ANY(d.upstream) AND (d.partition_key = j.partition_key OR j.partition_key = '__default__')
);
`,
  },
  {
    id: 5,
    name: 'one_writer_per_partition',
    // Two jobs of one task and partition that write a database (of two runs) never run at once:
    // the second would read the first's watermark before the first commits, and load its rows
    // twice. Claims skip a job whose key is taken; this index makes it a guarantee.
    sql: (s) => `
CREATE UNIQUE INDEX jobs_one_writer ON ${s}.jobs (database_id, task_name, partition_key)
  WHERE state = 'processing' AND database_id IS NOT NULL;
-- Cancelled while it runs: it stays processing (its key taken) until its worker stops it.
ALTER TABLE ${s}.jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
-- The database whose registry a run of the registry was planned from, and what each database
-- last registered: so that \`status\` tells removed tasks from the ledger alone, without the file.
ALTER TABLE ${s}.runs ADD COLUMN database_id text;
CREATE TABLE ${s}.registrations (
  database_id    text PRIMARY KEY,
  snapshot_id    text NOT NULL REFERENCES ${s}.snapshots,
  registered_at  timestamptz NOT NULL
);
`,
  },
  {
    id: 6,
    name: 'enqueue_run_function',
    // Transactional enqueue (graphile-worker's add_job): an application's own insert and the run it
    // triggers commit together or not at all, and the workers' NOTIFY is delivered at that commit.
    // It writes what `PgLedger.enqueueRun` writes for a DAG run by name, as the client plans it
    // (`app/dag-runs.ts`): a migration that changes what a run or job row holds replaces it too.
    sql: (s) => `
CREATE FUNCTION ${s}.enqueue_run(dag text, inputs jsonb DEFAULT '{}', metadata jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql AS $fn$
DECLARE
  v_run uuid := gen_random_uuid();
  v_snapshot text;
  v_planned text[] := '{}';
  v_layer text[];
  v_known text;
  v_writer text;
BEGIN
  SELECT a.snapshot_id INTO v_snapshot FROM ${s}.active_dags a WHERE a.dag_name = enqueue_run.dag;
  IF v_snapshot IS NULL THEN
    SELECT string_agg(a.dag_name, ', ' ORDER BY a.dag_name COLLATE "C") INTO v_known FROM ${s}.active_dags a;
    RAISE EXCEPTION 'unknown DAG "%": no DAG of that name has an active snapshot', enqueue_run.dag
      USING ERRCODE = 'undefined_object',
            HINT = coalesce('DAGs with an active snapshot: ' || v_known, 'activate one first: duck-orch snapshot --activate --dag path/module.ts:export');
  END IF;
  IF jsonb_typeof(coalesce(enqueue_run.metadata, '{}')) <> 'object' THEN
    RAISE EXCEPTION 'the metadata of a run must be a JSON object, got %', enqueue_run.metadata USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT t.task_name INTO v_writer FROM ${s}.snapshot_tasks t JOIN ${s}.definitions d USING (definition_hash)
  WHERE t.snapshot_id = v_snapshot AND (d.definition_json->>'kind' = 'sql' OR d.definition_json->'function'->'dag' = 'null'::jsonb) LIMIT 1;
  IF v_writer IS NOT NULL THEN
    RAISE EXCEPTION 'task "%" of DAG "%" writes a database: its runs need the project''s database file', v_writer, enqueue_run.dag
      USING ERRCODE = 'feature_not_supported', HINT = 'enqueue it with duck-orch --db <file> enqueue';
  END IF;
  -- The tasks in the graph's layers, each sorted by name, as the client and the CLI plan them.
  LOOP
    SELECT array_agg(t.task_name ORDER BY t.task_name COLLATE "C") INTO v_layer FROM ${s}.snapshot_tasks t
    WHERE t.snapshot_id = v_snapshot AND NOT (t.task_name = ANY(v_planned)) AND t.upstream <@ v_planned;
    EXIT WHEN v_layer IS NULL;
    v_planned := v_planned || v_layer;
  END LOOP;
  INSERT INTO ${s}.runs (run_id, created_at, snapshot_id, trigger, selector, inputs, planned_tasks, dag_name, metadata, database_id)
  VALUES (v_run::text, now(), v_snapshot, 'enqueue', NULL, coalesce(enqueue_run.inputs, 'null'), v_planned, enqueue_run.dag,
          coalesce(enqueue_run.metadata, '{}'), NULL);
  -- A job per task: how many upstream jobs it waits for, and the ids of the jobs waiting for it.
  WITH job AS MATERIALIZED (
    SELECT t.task_name, t.upstream, d.definition_json, gen_random_uuid()::text AS job_id, array_position(v_planned, t.task_name) AS pos
    FROM ${s}.snapshot_tasks t JOIN ${s}.definitions d USING (definition_hash) WHERE t.snapshot_id = v_snapshot
  )
  INSERT INTO ${s}.jobs (job_id, run_id, task_name, partition_key, state, attempts, max_attempts, run_at, created_at, updated_at, upstream,
    waiting, downstream, dag_name, database_id)
  SELECT j.job_id, v_run::text, j.task_name, '__default__', 'pending', 0, greatest(1, (j.definition_json->>'retries')::int + 1),
    now(), now(), now(), j.upstream,
    (SELECT count(*) FROM job u WHERE u.task_name = ANY(j.upstream)),
    ARRAY(SELECT d.job_id FROM job d WHERE j.task_name = ANY(d.upstream) ORDER BY d.pos),
    enqueue_run.dag, NULL
  FROM job j ORDER BY j.pos;
  -- Delivered at commit: the workers wake when the run exists for them.
  IF FOUND THEN
    PERFORM pg_notify('${s.slice(1, -1).replaceAll("'", "''")}_jobs', '');
  END IF;
  RETURN v_run;
END
$fn$;
COMMENT ON FUNCTION ${s}.enqueue_run(text, jsonb, jsonb) IS
  'Enqueues a run of the DAG named dag on its active snapshot, in the caller''s transaction; returns the run id.';
`,
  },
  {
    id: 7,
    name: 'materializations_and_checks',
    // As the embedded ledger's migration 0009: jobs' words for the status, the attempt and its
    // start; and the index that reads an asset's latest materialisations without a scan.
    sql: (s) => `
ALTER TABLE ${s}.asset_materializations RENAME COLUMN materialized_at TO finished_at;
ALTER TABLE ${s}.asset_materializations ADD COLUMN started_at timestamptz, ADD COLUMN attempt integer, ADD COLUMN bytes bigint;
UPDATE ${s}.asset_materializations SET status = 'succeeded' WHERE status = 'success';
CREATE INDEX asset_materializations_latest ON ${s}.asset_materializations (asset_name, finished_at DESC);
CREATE INDEX asset_materializations_finished ON ${s}.asset_materializations (finished_at);
CREATE TABLE ${s}.asset_check_results (
  asset_name     text NOT NULL,
  partition_key  text NOT NULL,
  check_name     text NOT NULL,
  passed         boolean NOT NULL,
  severity       text NOT NULL,
  value          text,
  expected       text,
  error          text,
  run_id         text,
  job_id         text,
  checked_at     timestamptz NOT NULL
);
CREATE INDEX asset_check_results_latest ON ${s}.asset_check_results (asset_name, checked_at DESC);
CREATE TABLE ${s}.asset_partition_ranges (
  asset_name   text PRIMARY KEY,
  space_key    text NOT NULL,
  through      timestamptz NOT NULL,
  ranges_json  jsonb NOT NULL
);
CREATE TABLE ${s}.asset_latest (
  asset_name       text PRIMARY KEY,
  partition_key    text NOT NULL,
  state            text NOT NULL,
  updated_at       timestamptz NOT NULL,
  last_success_at  timestamptz,
  run_id           text NOT NULL,
  job_id           text NOT NULL,
  rows_count       bigint,
  code_version     text
);
INSERT INTO ${s}.asset_latest
SELECT DISTINCT ON (asset_name) asset_name, partition_key, state, updated_at,
  max(last_success_at) OVER (PARTITION BY asset_name), run_id, job_id, rows_count, code_version
FROM ${s}.asset_state ORDER BY asset_name, updated_at DESC;
`,
  },
];

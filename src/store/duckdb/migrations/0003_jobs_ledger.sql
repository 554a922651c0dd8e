-- The jobs ledger: snapshots, runs, jobs, every attempt, materialisations and the latest state per
-- task and per asset × partition, as typed rows. The JSON `run_log` is moved over and dropped;
-- `__orch__.runs` (spec §9) becomes a view over jobs with the original columns.

-- Content-addressed definitions, shared by every snapshot that holds the same definition.
CREATE TABLE __orch__.definitions (
  definition_hash  VARCHAR PRIMARY KEY,
  task_name        VARCHAR NOT NULL,
  kind             VARCHAR NOT NULL,
  definition_json  VARCHAR NOT NULL
);

CREATE TABLE __orch__.snapshots (
  snapshot_id  VARCHAR PRIMARY KEY,
  created_at   TIMESTAMP NOT NULL,
  task_count   INTEGER NOT NULL
);

CREATE TABLE __orch__.snapshot_tasks (
  snapshot_id      VARCHAR NOT NULL,
  task_name        VARCHAR NOT NULL,
  definition_hash  VARCHAR NOT NULL,
  upstream         VARCHAR[] NOT NULL
);

-- One row per run (`pipeline_runs` keeps its name: queries written against it keep working).
CREATE TABLE __orch__.pipeline_runs_v3 (
  pipeline_run_id  VARCHAR PRIMARY KEY,
  snapshot_id      VARCHAR,
  trigger          VARCHAR NOT NULL,
  selector         VARCHAR,
  inputs_json      VARCHAR,
  state            VARCHAR NOT NULL,
  created_at       TIMESTAMP NOT NULL,
  started_at       TIMESTAMP,
  finished_at      TIMESTAMP,
  task_count       INTEGER NOT NULL,
  -- jobs per state, kept current by the ledger
  job_counts_json  VARCHAR NOT NULL,
  planned_tasks    VARCHAR[] NOT NULL
);

INSERT INTO __orch__.pipeline_runs_v3
SELECT
  pipeline_run_id, NULL, trigger, selector, NULL,
  CASE status WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'failed' ELSE 'cancelled' END,
  started_at, started_at, finished_at, task_count,
  json_object('succeeded', succeeded, 'dead', failed, 'skipped', skipped)::VARCHAR,
  planned_tasks
FROM __orch__.pipeline_runs;

-- One row per (run, task, partition).
CREATE TABLE __orch__.jobs (
  job_id              VARCHAR PRIMARY KEY,
  pipeline_run_id     VARCHAR NOT NULL,
  task_name           VARCHAR NOT NULL,
  partition_key       VARCHAR NOT NULL,
  state               VARCHAR NOT NULL,
  attempts            INTEGER NOT NULL,
  max_attempts        INTEGER NOT NULL,
  run_at              TIMESTAMP NOT NULL,
  lease_owner         VARCHAR,
  lease_expires_at    TIMESTAMP,
  created_at          TIMESTAMP NOT NULL,
  started_at          TIMESTAMP,
  finished_at         TIMESTAMP,
  -- when its state last changed (finished, else started, else created): what `status` lists by
  updated_at          TIMESTAMP NOT NULL,
  upstream            VARCHAR[] NOT NULL,
  rows_count          BIGINT,
  result_json         VARCHAR,
  last_processed_at   VARCHAR,
  error_message       VARCHAR,
  error_context_json  VARCHAR,
  code_version        VARCHAR
);

-- Every attempt of every job, in the order they were recorded (`attempt_seq`).
CREATE TABLE __orch__.attempts (
  attempt_seq         BIGINT NOT NULL,
  job_id              VARCHAR NOT NULL,
  pipeline_run_id     VARCHAR NOT NULL,
  task_name           VARCHAR NOT NULL,
  partition_key       VARCHAR NOT NULL,
  attempt             INTEGER NOT NULL,
  worker              VARCHAR NOT NULL,
  started_at          TIMESTAMP NOT NULL,
  finished_at         TIMESTAMP NOT NULL,
  -- succeeded | failed | released | lost | cancelled
  outcome             VARCHAR NOT NULL,
  -- the job's state once this attempt was recorded
  job_state           VARCHAR NOT NULL,
  rows_count          BIGINT,
  result_json         VARCHAR,
  last_processed_at   VARCHAR,
  error_message       VARCHAR,
  error_context_json  VARCHAR,
  code_version        VARCHAR,
  assets              VARCHAR[] NOT NULL
);

-- `status` reads the attempts of the jobs it lists: by index, not by a scan of every attempt.
CREATE INDEX attempts_job_id ON __orch__.attempts (job_id);

-- Spec §9's name, now a table: one row per asset per finished job that materialised it.
CREATE TABLE __orch__.asset_materializations_v3 (
  asset_name       VARCHAR NOT NULL,
  partition_key    VARCHAR NOT NULL,
  materialized_at  TIMESTAMP NOT NULL,
  run_id           VARCHAR NOT NULL,
  rows             BIGINT,
  bytes            BIGINT,
  status           VARCHAR NOT NULL,
  -- additions
  pipeline_run_id  VARCHAR NOT NULL,
  task_name        VARCHAR NOT NULL,
  code_version     VARCHAR
);

-- The latest state of each task × partition and each asset × partition: what status, graph
-- colouring, watermarks and the automation engine read, without touching history.
CREATE TABLE __orch__.task_state (
  task_name          VARCHAR NOT NULL,
  partition_key      VARCHAR NOT NULL,
  state              VARCHAR NOT NULL,
  updated_at         TIMESTAMP NOT NULL,
  last_success_at    TIMESTAMP,
  last_processed_at  VARCHAR,
  pipeline_run_id    VARCHAR NOT NULL,
  job_id             VARCHAR NOT NULL,
  rows_count         BIGINT,
  code_version       VARCHAR,
  PRIMARY KEY (task_name, partition_key)
);

CREATE TABLE __orch__.asset_state (
  asset_name       VARCHAR NOT NULL,
  partition_key    VARCHAR NOT NULL,
  state            VARCHAR NOT NULL,
  updated_at       TIMESTAMP NOT NULL,
  last_success_at  TIMESTAMP,
  pipeline_run_id  VARCHAR NOT NULL,
  job_id           VARCHAR NOT NULL,
  rows_count       BIGINT,
  code_version     VARCHAR,
  PRIMARY KEY (asset_name, partition_key)
);

-- A succeeded attempt's record, written inside the task's own transaction as one narrow JSON
-- row (a wide typed row costs a DuckDB commit about a millisecond more); the ledger moves these
-- rows into `attempts` in batches, and after a crash folds the ones it had not yet moved.
CREATE TABLE __orch__.ledger_journal (
  record  VARCHAR NOT NULL
);

-- Move the history over: each task run becomes a finished job with one attempt.
INSERT INTO __orch__.jobs
SELECT
  run_id, pipeline_run_id, task_name, partition_key,
  CASE status WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'dead' WHEN 'skipped' THEN 'skipped' ELSE 'cancelled' END,
  coalesce(attempts, 0), greatest(coalesce(attempts, 1), 1),
  coalesce(started_at, finished_at, now()::TIMESTAMP), NULL, NULL,
  coalesce(started_at, finished_at, now()::TIMESTAMP), started_at, finished_at,
  coalesce(finished_at, started_at, now()::TIMESTAMP), [],
  rows_count, NULL, last_processed_at, error_message, error_context_json, code_version
FROM __orch__.runs;

INSERT INTO __orch__.attempts
SELECT
  row_number() OVER (ORDER BY finished_at, run_id), run_id, pipeline_run_id, task_name, partition_key,
  attempts, 'migrated', coalesce(started_at, finished_at), finished_at,
  CASE status WHEN 'success' THEN 'succeeded' ELSE 'failed' END,
  CASE status WHEN 'success' THEN 'succeeded' ELSE 'dead' END,
  rows_count, NULL, last_processed_at, error_message, error_context_json, code_version, assets
FROM __orch__.runs
WHERE status IN ('success', 'failed') AND attempts > 0 AND finished_at IS NOT NULL;

INSERT INTO __orch__.asset_materializations_v3
SELECT asset_name, partition_key, materialized_at, run_id, rows, bytes, status, pipeline_run_id, task_name, code_version
FROM (
  SELECT a.asset_name, r.partition_key, r.finished_at AS materialized_at, r.run_id,
    CASE WHEN a.position = 1 THEN r.rows_count END AS rows, CAST(NULL AS BIGINT) AS bytes, r.status,
    r.pipeline_run_id, r.task_name, r.code_version
  FROM __orch__.runs AS r, unnest(r.assets) WITH ORDINALITY AS a(asset_name, position)
  WHERE r.status IN ('success', 'failed') AND r.finished_at IS NOT NULL
);

INSERT INTO __orch__.task_state
SELECT
  task_name, partition_key,
  arg_max(CASE status WHEN 'success' THEN 'succeeded' WHEN 'failed' THEN 'dead' ELSE 'skipped' END, coalesce(finished_at, started_at)),
  max(coalesce(finished_at, started_at)),
  max(finished_at) FILTER (WHERE status = 'success'),
  arg_max(last_processed_at, finished_at) FILTER (WHERE status = 'success'),
  arg_max(pipeline_run_id, coalesce(finished_at, started_at)),
  arg_max(run_id, coalesce(finished_at, started_at)),
  arg_max(rows_count, coalesce(finished_at, started_at)),
  arg_max(code_version, coalesce(finished_at, started_at))
FROM __orch__.runs
WHERE coalesce(finished_at, started_at) IS NOT NULL
GROUP BY task_name, partition_key;

INSERT INTO __orch__.asset_state
SELECT
  asset_name, partition_key,
  arg_max(CASE status WHEN 'success' THEN 'succeeded' ELSE 'dead' END, materialized_at),
  max(materialized_at),
  max(materialized_at) FILTER (WHERE status = 'success'),
  arg_max(pipeline_run_id, materialized_at),
  arg_max(run_id, materialized_at),
  arg_max(rows, materialized_at),
  arg_max(code_version, materialized_at)
FROM __orch__.asset_materializations_v3
GROUP BY asset_name, partition_key;

DROP VIEW __orch__.asset_materializations;
DROP VIEW __orch__.runs;
DROP TABLE __orch__.run_log;
DROP TABLE __orch__.pipeline_runs;
ALTER TABLE __orch__.pipeline_runs_v3 RENAME TO pipeline_runs;
ALTER TABLE __orch__.asset_materializations_v3 RENAME TO asset_materializations;

-- Spec §9's `runs`: one row per job with the original columns (statuses success/failed/skipped).
CREATE VIEW __orch__.runs AS
SELECT
  job_id AS run_id,
  pipeline_run_id,
  task_name,
  started_at,
  finished_at,
  CASE state WHEN 'succeeded' THEN 'success' WHEN 'dead' THEN 'failed' WHEN 'processing' THEN 'running'
    WHEN 'pending' THEN 'pending' WHEN 'failed' THEN 'retrying' ELSE 'skipped' END AS status,
  rows_count,
  error_message,
  error_context_json,
  greatest(attempts - 1, 0) AS retry_count,
  last_processed_at,
  -- additions
  attempts,
  partition_key,
  code_version,
  state
FROM __orch__.jobs;

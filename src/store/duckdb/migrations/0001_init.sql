-- duck-orch state schema, version 1. Table and column names follow the original duckOrch
-- (spec §9) so that queries written against it keep working; additions are marked.

CREATE TABLE __orch__.tasks (
  name             VARCHAR NOT NULL,
  description      VARCHAR,
  owner            VARCHAR,
  sql              VARCHAR NOT NULL,
  inputs           VARCHAR[] NOT NULL,
  outputs          VARCHAR[] NOT NULL,
  depends_on       VARCHAR[] NOT NULL,
  schedule_cron    VARCHAR,
  retries          INTEGER NOT NULL,
  timeout_seconds  BIGINT,
  incremental_by   VARCHAR,
  tags             VARCHAR[] NOT NULL,
  file_path        VARCHAR NOT NULL,
  registered_at    TIMESTAMP NOT NULL,
  partitions_json  VARCHAR,
  params_json      VARCHAR,
  -- additions
  code_version     VARCHAR NOT NULL,
  source_root      VARCHAR NOT NULL,
  definition_json  VARCHAR NOT NULL
);

-- addition: one row per `run` invocation (a pipeline run), so runs can be grouped and recovered.
CREATE TABLE __orch__.pipeline_runs (
  pipeline_run_id  VARCHAR PRIMARY KEY,
  trigger          VARCHAR NOT NULL,
  selector         VARCHAR,
  started_at       TIMESTAMP NOT NULL,
  finished_at      TIMESTAMP,
  status           VARCHAR NOT NULL,
  task_count       INTEGER NOT NULL,
  succeeded        INTEGER NOT NULL DEFAULT 0,
  failed           INTEGER NOT NULL DEFAULT 0,
  skipped          INTEGER NOT NULL DEFAULT 0,
  -- the selected tasks, so that a run cut short by a crash can be accounted for task by task
  planned_tasks    VARCHAR[] NOT NULL
);

-- Task runs are an append-only log of final records, one narrow row per task: a task's commit
-- writes a single JSON value next to its data (a 15-column row cost ~1 ms more per task, see
-- bench/README.md). `runs` presents the log with the columns of the original duckOrch.
CREATE TABLE __orch__.run_log (
  record  JSON NOT NULL
);

CREATE VIEW __orch__.runs AS
SELECT
  record ->> 'run_id'                              AS run_id,
  record ->> 'pipeline_run_id'                     AS pipeline_run_id,
  record ->> 'task_name'                           AS task_name,
  CAST(record ->> 'started_at' AS TIMESTAMP)       AS started_at,
  CAST(record ->> 'finished_at' AS TIMESTAMP)      AS finished_at,
  record ->> 'status'                              AS status,
  CAST(record ->> 'rows_count' AS BIGINT)          AS rows_count,
  record ->> 'error_message'                       AS error_message,
  record ->> 'error_context_json'                  AS error_context_json,
  CAST(record ->> 'retry_count' AS INTEGER)        AS retry_count,
  record ->> 'last_processed_at'                   AS last_processed_at,
  -- additions
  CAST(record ->> 'attempts' AS INTEGER)           AS attempts,
  coalesce(record ->> 'partition_key', '__default__') AS partition_key,
  record ->> 'code_version'                        AS code_version,
  CAST(coalesce(record -> 'assets', '[]') AS VARCHAR[]) AS assets
FROM __orch__.run_log;

CREATE TABLE __orch__.task_edges (
  upstream    VARCHAR NOT NULL,
  downstream  VARCHAR NOT NULL
);

CREATE TABLE __orch__.lineage_edges (
  src_dataset     VARCHAR NOT NULL,
  dst_dataset     VARCHAR NOT NULL,
  via_task        VARCHAR NOT NULL,
  transform_type  VARCHAR,
  discovered_at   TIMESTAMP NOT NULL,
  source          VARCHAR NOT NULL
);

CREATE TABLE __orch__.tests (
  task_name  VARCHAR NOT NULL,
  test_idx   INTEGER NOT NULL,
  query      VARCHAR NOT NULL,
  assertion  VARCHAR NOT NULL
);

-- addition: the outcome of every test execution.
CREATE TABLE __orch__.test_results (
  task_name        VARCHAR NOT NULL,
  test_idx         INTEGER NOT NULL,
  pipeline_run_id  VARCHAR,
  executed_at      TIMESTAMP NOT NULL,
  status           VARCHAR NOT NULL,
  actual_value     VARCHAR,
  message          VARCHAR
);

CREATE TABLE __orch__.column_lineage (
  src_dataset     VARCHAR,
  src_column      VARCHAR,
  dst_dataset     VARCHAR,
  dst_column      VARCHAR,
  via_task        VARCHAR,
  transform_kind  VARCHAR,
  subtype         VARCHAR,
  description     VARCHAR,
  discovered_at   TIMESTAMP
);

CREATE TABLE __orch__.assets (
  name                   VARCHAR NOT NULL,
  kind                   VARCHAR NOT NULL,
  location               VARCHAR,
  group_name             VARCHAR,
  owner                  VARCHAR,
  description            VARCHAR,
  code_version           VARCHAR,
  defined_by_task        VARCHAR NOT NULL,
  tags                   VARCHAR[] NOT NULL,
  created_at             TIMESTAMP NOT NULL,
  automation_condition   VARCHAR,
  target_lag_seconds     BIGINT,
  freshness_lag_seconds  BIGINT,
  interval_unit          VARCHAR,
  interval_start_ts      BIGINT,
  lookback               INTEGER,
  allow_partials         BOOLEAN
);

-- A view over runs rather than a second table, so a task's commit writes one state row:
-- every run that succeeded or failed materialised (or failed to materialise) its assets.
CREATE VIEW __orch__.asset_materializations AS
SELECT
  a.asset_name,
  r.partition_key,
  r.finished_at AS materialized_at,
  r.run_id,
  CASE WHEN a.position = 1 THEN r.rows_count END AS rows,
  CAST(NULL AS BIGINT) AS bytes,
  r.status
FROM __orch__.runs AS r, unnest(r.assets) WITH ORDINALITY AS a(asset_name, position)
WHERE r.status IN ('success', 'failed');

CREATE TABLE __orch__.asset_edges (
  upstream_asset    VARCHAR NOT NULL,
  downstream_asset  VARCHAR NOT NULL,
  via_task          VARCHAR NOT NULL,
  edge_type         VARCHAR NOT NULL
);

CREATE TABLE __orch__.asset_partitions (
  asset_name        VARCHAR NOT NULL,
  partition_key     VARCHAR NOT NULL,
  dimension_values  VARCHAR,
  created_at        TIMESTAMP NOT NULL
);

CREATE TABLE __orch__.automation_evaluations (
  asset_name     VARCHAR NOT NULL,
  evaluated_at   TIMESTAMP NOT NULL,
  condition_met  BOOLEAN NOT NULL,
  reason         VARCHAR
);

CREATE TABLE __orch__.asset_intervals (
  asset_name     VARCHAR NOT NULL,
  interval_unit  VARCHAR NOT NULL,
  start_ts       BIGINT NOT NULL,
  end_ts         BIGINT NOT NULL,
  status         VARCHAR NOT NULL,
  run_id         VARCHAR,
  created_at     TIMESTAMP NOT NULL
);

CREATE TABLE __orch__.asset_checks (
  asset_name    VARCHAR NOT NULL,
  check_name    VARCHAR NOT NULL,
  sql           VARCHAR NOT NULL,
  expect_type   VARCHAR NOT NULL,
  expect_value  VARCHAR,
  severity      VARCHAR NOT NULL
);

CREATE TABLE __orch__.asset_check_results (
  asset_name    VARCHAR NOT NULL,
  check_name    VARCHAR NOT NULL,
  run_id        VARCHAR,
  executed_at   TIMESTAMP NOT NULL,
  status        VARCHAR NOT NULL,
  actual_value  VARCHAR
);

CREATE TABLE __orch__.schedules (
  pipeline_or_task   VARCHAR NOT NULL,
  cron_expr          VARCHAR NOT NULL,
  timezone           VARCHAR,
  enabled            BOOLEAN NOT NULL DEFAULT true,
  last_triggered_at  TIMESTAMP,
  next_trigger_at    TIMESTAMP
);

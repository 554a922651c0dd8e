-- Materialisations as the assets feature reads them: `status` in the jobs' words (`succeeded`,
-- `failed`), `run_id` the run (as everywhere else in the ledger) and `job_id` the job, with the
-- attempt and its start and end. `materialized_at` stays (the end, duckOrch's name).
CREATE TABLE __orch__.asset_materializations_v9 (
  asset_name       VARCHAR NOT NULL,
  partition_key    VARCHAR NOT NULL,
  status           VARCHAR NOT NULL,
  rows             BIGINT,
  bytes            BIGINT,
  code_version     VARCHAR,
  run_id           VARCHAR NOT NULL,
  job_id           VARCHAR NOT NULL,
  attempt          INTEGER,
  task_name        VARCHAR NOT NULL,
  started_at       TIMESTAMP,
  finished_at      TIMESTAMP NOT NULL,
  materialized_at  TIMESTAMP NOT NULL
);

INSERT INTO __orch__.asset_materializations_v9
SELECT m.asset_name, m.partition_key, CASE m.status WHEN 'success' THEN 'succeeded' ELSE m.status END, m.rows, m.bytes,
  m.code_version, m.pipeline_run_id, m.run_id, j.attempts, m.task_name, j.started_at, m.materialized_at, m.materialized_at
FROM __orch__.asset_materializations AS m LEFT JOIN __orch__.jobs AS j ON j.job_id = m.run_id
ORDER BY m.materialized_at;

DROP TABLE __orch__.asset_materializations;
ALTER TABLE __orch__.asset_materializations_v9 RENAME TO asset_materializations;

-- Check results, one row per check evaluated (after an attempt, or by `check run`): created by
-- 0001 in duckOrch's shape and never written until now.
DROP TABLE __orch__.asset_check_results;
CREATE TABLE __orch__.asset_check_results (
  asset_name     VARCHAR NOT NULL,
  partition_key  VARCHAR NOT NULL,
  check_name     VARCHAR NOT NULL,
  passed         BOOLEAN NOT NULL,
  severity       VARCHAR NOT NULL,
  value          VARCHAR,
  expected       VARCHAR,
  error          VARCHAR,
  run_id         VARCHAR,
  job_id         VARCHAR,
  checked_at     TIMESTAMP NOT NULL
);

-- The status of a partitioned asset's partitions as ranges of indices into its partition space
-- (one JSON document per asset), brought up to date from `asset_state` rows changed since
-- `through` whenever they are read: the calendar and the missing set by arithmetic on ranges.
CREATE TABLE __orch__.asset_partition_ranges (
  asset_name   VARCHAR PRIMARY KEY,
  space_key    VARCHAR NOT NULL,
  through      TIMESTAMP NOT NULL,
  ranges_json  VARCHAR NOT NULL
);

-- The latest materialisation of each asset, over all its partitions, kept as jobs settle: what
-- `asset show` and `asset health` read by key instead of scanning every partition's state.
CREATE TABLE __orch__.asset_latest (
  asset_name       VARCHAR PRIMARY KEY,
  partition_key    VARCHAR NOT NULL,
  state            VARCHAR NOT NULL,
  updated_at       TIMESTAMP NOT NULL,
  last_success_at  TIMESTAMP,
  pipeline_run_id  VARCHAR NOT NULL,
  job_id           VARCHAR NOT NULL,
  rows_count       BIGINT,
  code_version     VARCHAR
);
INSERT INTO __orch__.asset_latest
SELECT asset_name, arg_max(partition_key, updated_at), arg_max(state, updated_at), max(updated_at), max(last_success_at),
  arg_max(pipeline_run_id, updated_at), arg_max(job_id, updated_at), arg_max(rows_count, updated_at), arg_max(code_version, updated_at)
FROM __orch__.asset_state GROUP BY asset_name;

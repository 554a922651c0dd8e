-- The DAG a run was planned for (`--dag`: only that DAG's workers claim its jobs) and the
-- caller's metadata (`enqueue --metadata`, a JSON object).
ALTER TABLE __orch__.pipeline_runs ADD COLUMN dag_name VARCHAR;
ALTER TABLE __orch__.pipeline_runs ADD COLUMN metadata_json VARCHAR;

-- Every snapshot taken of a DAG's code (`snapshot`), and where a worker loads that code from.
CREATE TABLE __orch__.dag_snapshots (
  dag_name     VARCHAR NOT NULL,
  snapshot_id  VARCHAR NOT NULL,
  module       VARCHAR NOT NULL,
  export_name  VARCHAR NOT NULL,
  created_at   TIMESTAMP NOT NULL,
  PRIMARY KEY (dag_name, snapshot_id)
);

-- What `--dag <name>` means: the DAG's active snapshot (`snapshot --activate`).
CREATE TABLE __orch__.active_dags (
  dag_name      VARCHAR PRIMARY KEY,
  snapshot_id   VARCHAR NOT NULL,
  activated_at  TIMESTAMP NOT NULL
);

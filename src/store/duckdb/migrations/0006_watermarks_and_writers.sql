-- A watermark describes the data in this file, so it lives here and commits with the data that
-- moved it, whichever ledger (this file's, or PostgreSQL) records the job: switching ledgers, or
-- re-creating one, keeps every incremental task's position.
CREATE TABLE __orch__.watermarks (
  task_name      VARCHAR NOT NULL,
  partition_key  VARCHAR NOT NULL,
  value          VARCHAR NOT NULL,
  job_id         VARCHAR NOT NULL,
  updated_at     TIMESTAMP NOT NULL,
  PRIMARY KEY (task_name, partition_key)
);
-- Each task's position as of its latest success that recorded one (the ledger journal holds
-- successes a crash kept from being moved into attempts).
INSERT INTO __orch__.watermarks
SELECT task_name, partition_key, arg_max(last_processed_at, finished_at), arg_max(job_id, finished_at), max(finished_at)
FROM (
  SELECT task_name, partition_key, last_processed_at, job_id, finished_at
  FROM __orch__.attempts WHERE outcome = 'succeeded' AND last_processed_at IS NOT NULL
  UNION ALL
  SELECT r.task_name, r.partition_key, r.last_processed_at, r.job_id, r.finished_at
  FROM (SELECT from_json(record, '{"task_name": "VARCHAR", "partition_key": "VARCHAR", "last_processed_at": "VARCHAR",
                                   "job_id": "VARCHAR", "finished_at": "TIMESTAMP"}') AS r FROM __orch__.ledger_journal)
  WHERE r.last_processed_at IS NOT NULL
)
GROUP BY task_name, partition_key;
-- An earlier version could leave a job `processing` whose success had been moved from the
-- journal into attempts already (a crash between two of its writes): the attempt is the truth.
UPDATE __orch__.jobs AS j SET state = 'succeeded', lease_owner = NULL, lease_expires_at = NULL, finished_at = a.finished_at,
  updated_at = a.finished_at, rows_count = a.rows_count, result_json = a.result_json, last_processed_at = a.last_processed_at,
  error_message = NULL, error_context_json = NULL, code_version = a.code_version
FROM __orch__.attempts AS a
WHERE j.state = 'processing' AND a.job_id = j.job_id AND a.attempt = j.attempts AND a.outcome = 'succeeded';
-- The database a job writes (SQL tasks and assets; NULL for Dag function tasks): two jobs of one
-- task and partition that write data never run at once, across runs.
ALTER TABLE __orch__.jobs ADD COLUMN database_id VARCHAR;
-- Cancelled while it runs: its worker stops it (see the job states in the README).
ALTER TABLE __orch__.jobs ADD COLUMN cancel_requested BOOLEAN DEFAULT false;

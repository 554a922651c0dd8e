-- A database is known to a shared (PostgreSQL) ledger by an id kept inside it, not by its path:
-- the same file is /data/w.duckdb on one machine and /mnt/shared/w.duckdb on another. Created
-- once, when this migration first runs on the file; a copy of the file keeps it.
CREATE TABLE __orch__.database_meta (
  key    VARCHAR PRIMARY KEY,
  value  VARCHAR NOT NULL
);
INSERT INTO __orch__.database_meta VALUES ('database_id', uuid()::VARCHAR);
-- With a shared ledger a job's data (here) and its completion (in PostgreSQL) are two commits.
-- This row commits with the data: a job that comes back after a crash between the two is
-- recorded from it instead of running again. One row per completed job attempt.
CREATE TABLE __orch__.completion_markers (
  job_id        VARCHAR NOT NULL,
  attempt       INTEGER NOT NULL,
  committed_at  TIMESTAMP NOT NULL,
  outcome_json  VARCHAR NOT NULL,
  PRIMARY KEY (job_id, attempt)
);

-- DuckDB 1.4–1.5 loses the entries of a secondary index that it rebuilt while replaying the log of
-- a killed process, once the file is next checkpointed: lookups by job id then missed attempts
-- that a scan finds (status showed a failed job without its failed attempt). Primary keys are not
-- affected. The embedded ledger keeps no secondary index; reading a job's attempts scans the table.
DROP INDEX IF EXISTS __orch__.attempts_job_id;

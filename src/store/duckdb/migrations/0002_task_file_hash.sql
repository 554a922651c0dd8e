-- Partial re-registration: a task file whose content hash is unchanged keeps its registered
-- definition (and the warnings it had) instead of being parsed and analysed again.
ALTER TABLE __orch__.tasks ADD COLUMN file_hash VARCHAR;
ALTER TABLE __orch__.tasks ADD COLUMN warnings_json VARCHAR;

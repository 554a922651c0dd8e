-- Each registered definition's hash (what snapshots address it by), so that reading the registry
-- does not serialise and hash every definition again to plan a run or save a snapshot. Rows
-- without it are rewritten by the next `register`.
ALTER TABLE __orch__.tasks ADD COLUMN definition_hash VARCHAR;

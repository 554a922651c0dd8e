-- Append-only log, loaded incrementally: each run only inserts orders newer than the
-- watermark the previous successful run recorded (max(ordered_at) of the output).
-- @task name=orders_log
-- @incremental_by ordered_at
-- @depends_on stg_orders
CREATE TABLE IF NOT EXISTS marts.orders_log AS SELECT * FROM staging.orders LIMIT 0;
INSERT INTO marts.orders_log
SELECT * FROM staging.orders WHERE ordered_at > {{ last_processed_at }};

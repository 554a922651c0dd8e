-- @task name=load_orders
-- @description Synthetic order lines for the first quarter of 2026
-- @tags raw, daily
-- @retries 2
CREATE SCHEMA IF NOT EXISTS raw;
CREATE OR REPLACE TABLE raw.orders AS
SELECT
    i AS order_id,
    1 + (hash(i) % 400)::INT AS customer_id,
    1 + (hash(i * 31) % 8)::INT AS product_id,
    1 + (hash(i * 17) % 4)::INT AS quantity,
    TIMESTAMP '2026-01-01' + INTERVAL (hash(i * 13) % (90 * 24 * 60)) MINUTE AS ordered_at
FROM range(1, 5001) AS t(i);

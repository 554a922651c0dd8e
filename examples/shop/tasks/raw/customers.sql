-- Synthetic customers, so the example needs no download.
-- @task name=load_customers
-- @description Load the customer master data
-- @owner data-team@example.com
-- @tags raw, daily
CREATE SCHEMA IF NOT EXISTS raw;
CREATE OR REPLACE TABLE raw.customers AS
SELECT
    i AS customer_id,
    'customer ' || i AS name,
    ['JP', 'US', 'DE', 'FR', 'BR'][1 + (hash(i) % 5)::INT] AS country,
    DATE '2025-01-01' + INTERVAL (hash(i * 7) % 365) DAY AS signed_up_at,
    CASE WHEN i % 50 = 0 THEN TIMESTAMP '2026-02-01' END AS deleted_at
FROM range(1, 401) AS t(i);

-- Lifetime value per customer, upserted into a table with a primary key.
-- @task name=customer_ltv
-- @description Lifetime value per customer
-- @asset_group sales
-- @tags sales
-- @retries 1
CREATE TABLE IF NOT EXISTS marts.customer_ltv (
    customer_id BIGINT PRIMARY KEY,
    country VARCHAR,
    lifetime_value DECIMAL(18, 2),
    orders BIGINT,
    last_order_at TIMESTAMP
);

WITH per_customer AS (
    SELECT customer_id, sum(amount) AS lifetime_value, count(*) AS orders, max(ordered_at) AS last_order_at
    FROM staging.orders
    GROUP BY customer_id
)
INSERT OR REPLACE INTO marts.customer_ltv
SELECT c.customer_id, c.country, coalesce(p.lifetime_value, 0), coalesce(p.orders, 0), p.last_order_at
FROM staging.customers AS c
LEFT JOIN per_customer AS p USING (customer_id);

-- @task name=stg_orders
-- @description Order lines priced from the catalogue
-- @tags staging
-- @timeout 5m
-- @test "SELECT count(*) FROM staging.orders WHERE amount <= 0" expect 0
-- @test "SELECT * FROM staging.orders" expect_non_empty
CREATE OR REPLACE TABLE staging.orders AS
SELECT o.order_id, o.customer_id, o.product_id, p.category, o.quantity,
       round(o.quantity * p.unit_price, 2) AS amount,
       o.ordered_at, o.ordered_at::DATE AS order_date
FROM raw.orders AS o
JOIN raw.products AS p USING (product_id)
WHERE o.customer_id IN (SELECT customer_id FROM staging.customers);

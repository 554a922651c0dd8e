-- @task name=stg_customers
-- @description Active customers, one row each
-- @tags staging
-- @test "SELECT count(*) FROM staging.customers WHERE deleted_at IS NOT NULL" expect 0
CREATE OR REPLACE TABLE staging.customers AS
SELECT * EXCLUDE (name), upper(name) AS name
FROM raw.customers
WHERE deleted_at IS NULL
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY signed_up_at DESC) = 1;

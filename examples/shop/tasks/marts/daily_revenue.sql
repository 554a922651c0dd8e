-- @task name=daily_revenue
-- @asset name=marts.daily_revenue
-- @asset_group sales
-- @asset_description Revenue per day and category
-- @check name=positive_revenue "SELECT min(revenue) FROM ${asset}" expect gt 0
-- @tags daily, sales
CREATE OR REPLACE TABLE marts.daily_revenue AS
SELECT order_date, category, count(*) AS orders, sum(amount) AS revenue
FROM staging.orders
GROUP BY ALL
ORDER BY ALL;

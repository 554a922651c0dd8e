-- @task name=country_summary
-- @tags sales
-- @test "SELECT count(*) FROM marts.country_summary" expect_gt 0
CREATE OR REPLACE VIEW marts.country_summary AS
SELECT country, count(*) AS customers, sum(lifetime_value) AS revenue,
       (SELECT sum(revenue) FROM marts.daily_revenue) AS total_revenue
FROM marts.customer_ltv
GROUP BY ALL;

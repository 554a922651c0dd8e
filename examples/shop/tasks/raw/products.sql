-- The product catalogue comes from a CSV file: file inputs show up in lineage as file:<path>.
-- @task name=load_products
-- @tags raw
CREATE SCHEMA IF NOT EXISTS raw;
CREATE OR REPLACE TABLE raw.products AS
SELECT * FROM read_csv('examples/shop/data/products.csv', header = true);

-- Changing a column type rewrites the table: above --online-threshold rows it runs through the online engine.
ALTER TABLE orders ALTER COLUMN customer_id TYPE bigint;
-- Adding a nullable column is metadata-only: it runs directly.
ALTER TABLE orders ADD COLUMN note text;

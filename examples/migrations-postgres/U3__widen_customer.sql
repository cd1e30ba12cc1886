ALTER TABLE orders DROP COLUMN note;
ALTER TABLE orders ALTER COLUMN customer_id TYPE integer;

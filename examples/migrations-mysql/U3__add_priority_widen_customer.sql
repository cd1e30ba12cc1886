ALTER TABLE orders DROP COLUMN priority, MODIFY customer_id INT NOT NULL;

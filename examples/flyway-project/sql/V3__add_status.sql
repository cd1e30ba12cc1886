ALTER TABLE orders ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'new';
CREATE INDEX orders_customer ON orders (customer);

CREATE TABLE t (id SERIAL PRIMARY KEY, name VARCHAR(40) NOT NULL, qty INT NOT NULL, price NUMERIC(10,2) NULL);
INSERT INTO t (name, qty, price) SELECT 'item ' || n, n % 97, n / 7.0 FROM generate_series(1, 3000) n;

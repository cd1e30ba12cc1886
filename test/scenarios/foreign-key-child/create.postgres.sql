CREATE TABLE parent (id INT NOT NULL PRIMARY KEY);
INSERT INTO parent SELECT n FROM generate_series(1, 50) n;
CREATE TABLE t (id SERIAL PRIMARY KEY, parent_id INT NOT NULL, v INT NOT NULL, CONSTRAINT test_fk FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE RESTRICT);
INSERT INTO t (parent_id, v) SELECT n % 50 + 1, n FROM generate_series(1, 3000) n;

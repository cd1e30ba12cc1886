CREATE TABLE t (tenant INT NOT NULL, id INT NOT NULL, v VARCHAR(30) NOT NULL, PRIMARY KEY (tenant, id));
INSERT INTO t SELECT n % 7, n, 'v' || n FROM generate_series(1, 3000) n;

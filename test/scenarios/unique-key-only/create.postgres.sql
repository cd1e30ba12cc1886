CREATE TABLE t (a INT NOT NULL, b VARCHAR(20) NOT NULL, note VARCHAR(40) NULL, CONSTRAINT uk UNIQUE (a, b));
INSERT INTO t SELECT n, 'b' || (n % 3), 'x' FROM generate_series(1, 3000) n;

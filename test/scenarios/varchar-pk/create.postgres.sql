CREATE TABLE t (code uuid NOT NULL PRIMARY KEY DEFAULT gen_random_uuid(), n INT NOT NULL);
INSERT INTO t (n) SELECT n FROM generate_series(1, 3000) n;

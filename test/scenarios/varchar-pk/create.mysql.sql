CREATE TABLE t (code VARCHAR(40) COLLATE utf8mb4_unicode_ci NOT NULL PRIMARY KEY, n INT NOT NULL) DEFAULT CHARSET=utf8mb4;
INSERT INTO t SELECT CONCAT('Code-', seq, IF(seq % 5 = 0, ' ü😀', '')), seq FROM seq_1_to_3000;

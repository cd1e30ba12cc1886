UPDATE t SET label = 'upd', n = n + 1 WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (label, doc, n) VALUES ('new', '{"new": true}', 7)

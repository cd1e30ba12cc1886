UPDATE t SET c1 = NULL WHERE id = :id
UPDATE t SET c1 = :id, v = 'upd' WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (id, c1, v) VALUES (:new, NULL, 'new')
INSERT INTO t (id, c1, v) VALUES (:new, 5, 'new')

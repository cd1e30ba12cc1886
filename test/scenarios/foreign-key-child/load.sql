UPDATE t SET parent_id = MOD(:id, 50) + 1 WHERE id = :id
UPDATE t SET v = v + 1 WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (id, parent_id, v) VALUES (:new, 7, 1)
INSERT INTO parent (id) VALUES (:new)

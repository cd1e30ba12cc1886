UPDATE t SET i = i + 1 WHERE id = :id
UPDATE t SET v = 'upd' WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (id, i, v) VALUES (:new, 3, 'new')
UPDATE t SET id = :new WHERE id = :id
BEGIN; UPDATE t SET i = i + 5 WHERE id = :id; UPDATE t SET i = i - 1 WHERE id = :id; COMMIT

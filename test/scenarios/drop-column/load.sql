UPDATE t SET qty = qty + 1, price = NULL WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (id, name, qty, price) VALUES (:new, 'new', 1, 9.99)
UPDATE t SET id = :new WHERE id = :id
BEGIN; UPDATE t SET name = 'txn' WHERE id = :id; DELETE FROM t WHERE id = :id; INSERT INTO t (id, name, qty) VALUES (:new, 'txn', 2); COMMIT
BEGIN; UPDATE t SET name = 'rolled back' WHERE id = :id; DELETE FROM t WHERE id = :id; ROLLBACK

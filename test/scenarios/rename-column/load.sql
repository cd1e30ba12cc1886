UPDATE t SET qty = qty + 1 WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (id, name, qty) VALUES (:new, 'new', 1)

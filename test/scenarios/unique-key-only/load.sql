UPDATE t SET note = 'upd' WHERE a = :id
DELETE FROM t WHERE a = :id
INSERT INTO t (a, b, note) VALUES (:new, 'n', 'new')
UPDATE t SET a = :new WHERE a = :id

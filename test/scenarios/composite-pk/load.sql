UPDATE t SET v = 'upd' WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t (tenant, id, v) VALUES (3, :new, 'new')
UPDATE t SET tenant = 99 WHERE id = :id

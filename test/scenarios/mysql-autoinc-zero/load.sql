UPDATE t SET v = 'upd' WHERE id = :id
UPDATE t SET v = CONCAT('zero ', :new) WHERE id = 0
DELETE FROM t WHERE id = :id
INSERT INTO t (v) VALUES ('new')

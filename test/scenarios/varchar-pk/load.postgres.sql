UPDATE t SET n = n + 1 WHERE n = :id
DELETE FROM t WHERE n = :id
INSERT INTO t (n) VALUES (:new)
UPDATE t SET code = gen_random_uuid() WHERE n = :id

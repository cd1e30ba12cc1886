UPDATE t SET n = n + 1 WHERE n = :id
DELETE FROM t WHERE n = :id
INSERT INTO t VALUES (CONCAT('new-', :new), :new)
UPDATE t SET code = CONCAT('moved-', :new) WHERE n = :id

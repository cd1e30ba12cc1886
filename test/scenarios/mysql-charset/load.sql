UPDATE t SET s = CONCAT('upd ', id) WHERE id = :id
DELETE FROM t WHERE id = :id
INSERT INTO t VALUES (:new, 'neu', JSON_ARRAY(1, 2))

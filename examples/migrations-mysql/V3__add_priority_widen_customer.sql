-- A table-rewriting ALTER: above --online-threshold rows it runs through the online engine.
ALTER TABLE orders ADD COLUMN priority INT NOT NULL DEFAULT 0, MODIFY customer_id BIGINT NOT NULL;

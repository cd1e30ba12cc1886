CREATE OR REPLACE VIEW order_totals AS SELECT status, count(*) AS orders, sum(amount) AS total FROM orders GROUP BY status;

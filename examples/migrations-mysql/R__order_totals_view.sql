CREATE OR REPLACE VIEW order_totals AS SELECT status, COUNT(*) AS orders, SUM(amount) AS total FROM orders GROUP BY status;

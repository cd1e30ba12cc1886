CREATE OR REPLACE VIEW order_totals AS SELECT customer, SUM(amount) AS total FROM orders GROUP BY customer;

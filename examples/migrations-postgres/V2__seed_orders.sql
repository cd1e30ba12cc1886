INSERT INTO orders (customer_id, amount, status, created_at)
SELECT n % 9973, (n % 100000) / 100.0, (ARRAY['new','paid','shipped','returned'])[1 + n % 4], timestamptz '2026-01-01' + n * interval '1 second'
FROM generate_series(1, 300000) AS n;

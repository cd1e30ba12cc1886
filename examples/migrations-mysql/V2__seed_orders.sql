-- 300,000 sample rows (MariaDB's sequence engine generates them).
INSERT INTO orders (customer_id, amount, status, created_at)
SELECT seq % 9973, (seq % 100000) / 100, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'returned'), TIMESTAMP('2026-01-01') + INTERVAL seq SECOND
FROM seq_1_to_300000;

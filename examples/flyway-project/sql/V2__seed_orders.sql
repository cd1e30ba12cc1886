INSERT INTO orders (id, customer, amount) VALUES (1, 'ada', 10.50), (2, 'grace', 99.99);

-- Portable SQL: the same files run on PostgreSQL and MySQL/MariaDB.
CREATE TABLE orders (
  id INT NOT NULL PRIMARY KEY,
  customer VARCHAR(100) NOT NULL,
  amount DECIMAL(12, 2) NOT NULL,
  currency CHAR(3) NOT NULL DEFAULT '${currency}'
);

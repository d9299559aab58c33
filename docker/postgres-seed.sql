-- A little data for the compose demo's `shop` database.
CREATE TABLE IF NOT EXISTS products (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL
);
INSERT INTO products (name, price)
SELECT 'product ' || g, (g % 97) + 0.99 FROM generate_series(1, 1000) g;

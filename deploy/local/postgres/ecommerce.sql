-- The demo shop of seed 004 (../shared/seeds/004), the source of the ecommerce CDC pipeline:
-- its four tables as the seed writes them, a publication for Debezium's pgoutput plugin, and a
-- little sample data so that Debezium's initial snapshot (op=r) has rows to read. Run once, by
-- deploy/local/postgres.ts, when it creates the `ecommerce` database.

CREATE TABLE users (
    user_id SERIAL PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    status VARCHAR(20) DEFAULT 'active'
);

CREATE TABLE products (
    product_id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    category VARCHAR(100),
    price DECIMAL(10,2) NOT NULL,
    stock_quantity INTEGER DEFAULT 0,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE orders (
    order_id SERIAL PRIMARY KEY,
    user_id INTEGER REFERENCES users(user_id),
    total_amount DECIMAL(10,2) NOT NULL,
    status VARCHAR(20) DEFAULT 'pending',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE order_items (
    item_id SERIAL PRIMARY KEY,
    order_id INTEGER REFERENCES orders(order_id),
    product_id INTEGER REFERENCES products(product_id),
    quantity INTEGER NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

-- Debezium's pgoutput plugin streams the tables of a publication.
CREATE PUBLICATION eddy_ecommerce FOR TABLE users, products, orders, order_items;

INSERT INTO users (email, first_name, last_name) VALUES
    ('ada@example.com', 'Ada', 'Lovelace'),
    ('alan@example.com', 'Alan', 'Turing'),
    ('grace@example.com', 'Grace', 'Hopper'),
    ('edsger@example.com', 'Edsger', 'Dijkstra'),
    ('barbara@example.com', 'Barbara', 'Liskov');

INSERT INTO products (name, category, price, stock_quantity) VALUES
    ('Wireless Mouse', 'electronics', 24.99, 120),
    ('Mechanical Keyboard', 'electronics', 89.50, 35),
    ('Garden Hose', 'garden', 19.99, 8),
    ('Cookbook', 'books', 29.00, 60),
    ('Board Game', 'toys', 44.95, 2);

INSERT INTO orders (user_id, total_amount, status) VALUES
    (1, 114.49, 'completed'),
    (2, 29.00, 'pending');

INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES
    (1, 1, 1, 24.99),
    (1, 2, 1, 89.50),
    (2, 4, 1, 29.00);

-- The demo shop of seed 004 in MariaDB (Debian's MySQL), the MySQL side of the CDC chain: the
-- same four tables as deploy/local/postgres/ecommerce.sql, typed so that Debezium sends what it
-- sends for PostgreSQL (DATETIME(6): MicroTimestamp; DECIMAL: exact decimals), and the same
-- sample rows. Run once, by deploy/local/mysql.ts, when it creates the `ecommerce` database.

CREATE TABLE users (
    user_id INT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    status VARCHAR(20) DEFAULT 'active'
);

CREATE TABLE products (
    product_id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    category VARCHAR(100),
    price DECIMAL(10,2) NOT NULL,
    stock_quantity INT DEFAULT 0,
    created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6)
);

CREATE TABLE orders (
    order_id INT AUTO_INCREMENT PRIMARY KEY,
    user_id INT,
    total_amount DECIMAL(10,2) NOT NULL,
    status VARCHAR(20) DEFAULT 'pending',
    created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    updated_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    FOREIGN KEY (user_id) REFERENCES users(user_id)
);

CREATE TABLE order_items (
    item_id INT AUTO_INCREMENT PRIMARY KEY,
    order_id INT,
    product_id INT,
    quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    created_at DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6),
    FOREIGN KEY (order_id) REFERENCES orders(order_id),
    FOREIGN KEY (product_id) REFERENCES products(product_id)
);

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

-- Where the ecommerce job writes when run with output 'postgres' (eddy up --cdc postgres): seed
-- 004's analytics tables, in their own schema (not in the CDC publication). Applied on every
-- start, so it only creates what is missing. revenue_analytics gets a primary key, which the
-- seed's DDL lacks: the job upserts one row per window and corrects it as orders change.
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.revenue_analytics (
    window_start TIMESTAMP PRIMARY KEY,
    window_end TIMESTAMP,
    total_revenue DECIMAL(15,2),
    order_count INTEGER,
    avg_order_value DECIMAL(10,2),
    top_category VARCHAR(100),
    processed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS analytics.user_activity (
    user_id INTEGER,
    session_start TIMESTAMP,
    session_end TIMESTAMP,
    page_views INTEGER,
    orders_placed INTEGER,
    total_spent DECIMAL(10,2),
    last_activity TIMESTAMP
);

CREATE TABLE IF NOT EXISTS analytics.inventory_alerts (
    product_id INTEGER,
    product_name VARCHAR(255),
    current_stock INTEGER,
    threshold INTEGER,
    alert_level VARCHAR(20), -- 'low', 'critical', 'out_of_stock'
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

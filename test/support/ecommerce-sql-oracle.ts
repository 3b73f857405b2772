/**
 * The ecommerce job's revenue windows computed by SQL over the current source tables of the
 * demo shop's PostgreSQL: the independent computation the real CDC chain is compared with.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { RevenueWindow } from '../../examples/ecommerce/job.ts';

/**
 * Per window of `windowMs` of `orders.created_at`, over orders not cancelled: total, count,
 * average rounded to cents, and the category with the largest sum of quantity * unit_price over
 * their items joined to the current products (ties: the smallest name, byte order).
 */
export async function revenueBySql(url: string, windowMs: number): Promise<Map<string, RevenueWindow>> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const result = await db.query<{ w: string; total: string; n: number; avg: string; top: string | null }>(
      `WITH o AS (
         SELECT order_id, total_amount, (floor(extract(epoch FROM created_at) * 1000 / $1) * $1)::bigint AS w
         FROM orders WHERE status <> 'cancelled' AND created_at IS NOT NULL),
       c AS (
         SELECT o.w, p.category, sum(i.quantity * i.unit_price) AS s
         FROM o JOIN order_items i ON i.order_id = o.order_id JOIN products p ON p.product_id = i.product_id
         WHERE p.category IS NOT NULL GROUP BY o.w, p.category)
       SELECT o.w::text AS w, sum(o.total_amount)::text AS total, count(*)::int AS n, round(avg(o.total_amount), 2)::text AS avg,
              (SELECT c.category FROM c WHERE c.w = o.w ORDER BY c.s DESC, c.category COLLATE "C" LIMIT 1) AS top
       FROM o GROUP BY o.w`,
      [windowMs],
    );
    const windows = new Map<string, RevenueWindow>();
    for (const r of result.rows) {
      const start = new Date(Number(r.w)).toISOString();
      windows.set(start, { window_start: start, window_end: new Date(Number(r.w) + windowMs).toISOString(), total_revenue: Number(r.total), order_count: r.n, avg_order_value: Number(r.avg), top_category: r.top });
    }
    return windows;
  } finally {
    await db.end();
  }
}

/** The same query in MariaDB's SQL over the MySQL side's source tables (DATETIME columns in UTC). */
export async function revenueByMysql(url: string, windowMs: number): Promise<Map<string, RevenueWindow>> {
  const db = await mysql.createConnection({ uri: url });
  try {
    await db.query("SET time_zone = '+00:00'");
    const [rows] = await db.query<mysql.RowDataPacket[]>(
      `WITH o AS (
         SELECT order_id, total_amount, CAST(FLOOR(UNIX_TIMESTAMP(created_at) * 1000 / ?) * ? AS SIGNED) AS w
         FROM orders WHERE status <> 'cancelled' AND created_at IS NOT NULL),
       c AS (
         SELECT o.w, p.category, SUM(i.quantity * i.unit_price) AS s
         FROM o JOIN order_items i ON i.order_id = o.order_id JOIN products p ON p.product_id = i.product_id
         WHERE p.category IS NOT NULL GROUP BY o.w, p.category)
       SELECT o.w AS w, CAST(SUM(o.total_amount) AS CHAR) AS total, COUNT(*) AS n, CAST(ROUND(AVG(o.total_amount), 2) AS CHAR) AS avg,
              (SELECT c.category FROM c WHERE c.w = o.w ORDER BY c.s DESC, CAST(c.category AS BINARY) LIMIT 1) AS top
       FROM o GROUP BY o.w`,
      [windowMs, windowMs],
    );
    const windows = new Map<string, RevenueWindow>();
    for (const r of rows) {
      const w = Number(r.w);
      const start = new Date(w).toISOString();
      windows.set(start, { window_start: start, window_end: new Date(w + windowMs).toISOString(), total_revenue: Number(r.total), order_count: Number(r.n), avg_order_value: Number(r.avg), top_category: (r.top as string | null) ?? null });
    }
    return windows;
  } finally {
    await db.end();
  }
}

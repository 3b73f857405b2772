/**
 * A workload of realistic transactions on the demo shop's database, PostgreSQL or MariaDB (seed
 * 004's schema, deploy/local/{postgres,mysql}/ecommerce.sql), for the real CDC chain: new users, orders with
 * their items, status changes pending -> processing -> completed | cancelled, price and stock
 * updates, deletes of items, and (on request) a truncate of the items. Seeded, so the same seed makes the same choices; each choice is
 * one transaction, committed before the next.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { SeededRandom } from './random.ts';

/** Options of {@link runDbWorkload}. */
export interface DbWorkloadOptions {
  /** Connection string of the `ecommerce` database: `postgres://...` or `mysql://...`. */
  url: string;
  seed: number;
  /** Transactions to run. */
  transactions: number;
  /** Transactions per second (a pause after each; 0: as fast as the database goes). */
  rate: number;
  /** Stops early when it returns true (checked between transactions). */
  stop?: () => boolean;
  /** Before this transaction (0-based), `TRUNCATE order_items` (Debezium sends one keyless event). */
  truncateItemsAt?: number;
}

/** What a run did, by kind of transaction. */
export type DbWorkloadReport = Record<'users' | 'orders' | 'statuses' | 'prices' | 'stock' | 'deletes' | 'truncates', number> & { transactions: number };

const CATEGORIES = ['books', 'electronics', 'garden', 'home', 'toys'];
const NEXT_STATUS: Record<string, string[]> = { pending: ['processing', 'cancelled'], processing: ['completed', 'cancelled'] };

/** Runs the workload; resolves with what it did. */
export async function runDbWorkload(options: DbWorkloadOptions): Promise<DbWorkloadReport> {
  const random = new SeededRandom(options.seed);
  const db = await connectShop(options.url);
  const report: DbWorkloadReport = { transactions: 0, users: 0, orders: 0, statuses: 0, prices: 0, stock: 0, deletes: 0, truncates: 0 };
  const ids = async (sql: string): Promise<number[]> => (await db.query<{ id: number }>(sql)).map((r) => r.id);
  const tx = async (work: () => Promise<void>): Promise<void> => {
    await db.query('BEGIN');
    try {
      await work();
      await db.query('COMMIT');
    } catch (thrown) {
      await db.query('ROLLBACK');
      throw thrown;
    }
  };
  try {
    // New products now and then keep categories moving; the seed's five are there from the start.
    for (let n = 0; n < options.transactions && options.stop?.() !== true; n++) {
      const started = Date.now();
      if (n === options.truncateItemsAt) {
        await tx(() => db.query('TRUNCATE order_items').then(() => undefined));
        report.truncates++;
      }
      const dice = random.int(1, 100);
      if (dice <= 8) {
        await tx(() => db.query('INSERT INTO users (email, first_name) VALUES ($1, $2)', [`user${options.seed}-${n}@example.com`, `User ${n}`]).then(() => undefined));
        report.users++;
      } else if (dice <= 12) {
        await tx(() => db.query('INSERT INTO products (name, category, price, stock_quantity) VALUES ($1, $2, $3, $4)', [`Product ${n}`, random.pick(CATEGORIES), random.int(100, 20_000) / 100, random.int(0, 200)]).then(() => undefined));
        report.prices++;
      } else if (dice <= 55) {
        const [users, products] = [await ids('SELECT user_id AS id FROM users'), await ids('SELECT product_id AS id FROM products')];
        await tx(async () => {
          const lines = Array.from({ length: random.int(1, 3) }, () => ({ product: random.pick(products), quantity: random.int(1, 4) }));
          const prices = await db.query<{ id: number; price: string }>('SELECT product_id AS id, price FROM products WHERE product_id = ANY($1)', [lines.map((l) => l.product)]);
          const priceOf = new Map(prices.map((r) => [r.id, r.price]));
          const totalCents = lines.reduce((sum, l) => sum + Math.round(Number(priceOf.get(l.product)) * 100) * l.quantity, 0);
          const order = await db.query<{ id: number }>('INSERT INTO orders (user_id, total_amount) VALUES ($1, $2) RETURNING order_id AS id', [random.pick(users), (totalCents / 100).toFixed(2)]);
          for (const l of lines) await db.query('INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES ($1, $2, $3, $4)', [order[0]?.id, l.product, l.quantity, priceOf.get(l.product)]);
          await db.query('UPDATE products SET stock_quantity = stock_quantity - $2, updated_at = now() WHERE product_id = ANY($1)', [lines.map((l) => l.product), 1]);
        });
        report.orders++;
      } else if (dice <= 80) {
        const open = await db.query<{ id: number; status: string }>("SELECT order_id AS id, status FROM orders WHERE status IN ('pending', 'processing') ORDER BY order_id");
        const order = open.length === 0 ? undefined : random.pick(open);
        if (order === undefined) continue;
        await tx(() => db.query('UPDATE orders SET status = $2, updated_at = now() WHERE order_id = $1', [order.id, random.pick(NEXT_STATUS[order.status] ?? ['completed'])]).then(() => undefined));
        report.statuses++;
      } else if (dice <= 88) {
        const product = random.pick(await ids('SELECT product_id AS id FROM products'));
        await tx(() => db.query('UPDATE products SET price = $2, updated_at = now() WHERE product_id = $1', [product, random.int(100, 20_000) / 100]).then(() => undefined));
        report.prices++;
      } else if (dice <= 96) {
        const product = random.pick(await ids('SELECT product_id AS id FROM products'));
        await tx(() => db.query('UPDATE products SET stock_quantity = $2, updated_at = now() WHERE product_id = $1', [product, random.int(0, 150)]).then(() => undefined));
        report.stock++;
      } else {
        const items = await ids('SELECT item_id AS id FROM order_items');
        if (items.length === 0) continue;
        await tx(() => db.query('DELETE FROM order_items WHERE item_id = $1', [random.pick(items)]).then(() => undefined));
        report.deletes++;
      }
      report.transactions++;
      const pause = options.rate > 0 ? 1_000 / options.rate - (Date.now() - started) : 0;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  } finally {
    await db.end();
  }
  return report;
}

/** The one connection the workload uses, speaking PostgreSQL's `$n` parameters to either database. */
interface ShopDb {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  end(): Promise<void>;
}

async function connectShop(url: string): Promise<ShopDb> {
  if (url.startsWith('mysql://')) {
    const connection = await mysql.createConnection({ uri: url });
    // DATETIME columns hold UTC, as Debezium reads them.
    await connection.query("SET time_zone = '+00:00'");
    return {
      query: async <T>(sql: string, params: unknown[] = []) => {
        const [result] = await connection.query(...toMysql(sql, params));
        return (Array.isArray(result) ? result : []) as T[];
      },
      end: () => connection.end(),
    };
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[], end: () => client.end() };
}

/** `$n` parameters as MySQL's positional `?`, `= ANY($n)` as `IN (?)` (mysql2 expands the array). */
export function toMysql(sql: string, params: readonly unknown[]): [string, unknown[]] {
  const ordered: unknown[] = [];
  const text = sql.replace(/= ANY\((\$\d+)\)/g, 'IN ($1)').replace(/\$(\d+)/g, (_m, n: string) => {
    ordered.push(params[Number(n) - 1]);
    return '?';
  });
  return [text, ordered];
}

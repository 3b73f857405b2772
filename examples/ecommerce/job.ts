/**
 * The `ecommerce-demo` job: real-time analytics over the Debezium change events of the demo
 * shop (loadtest/cdc generates them). It shows the two basic shapes of a keyed actor:
 *
 * - `revenue`: a 1-minute tumbling event-time window of new orders, closed by an event-time
 *   timer when the watermark passes the window's end. Orders are partitioned by order_id, so
 *   one actor per task (`task-<partition>`) sees all orders of its partition and emits that
 *   partition's share of each window; summing the 12 shares gives the shop's revenue.
 * - `inventory`: one actor per product (products are partitioned by product_id), remembering
 *   the last stock level and alerting when it drops below 10 or to 0.
 */
import { debezium, defineJob, kafkaSink, kafkaSource, keyedActor, type DebeziumChange } from '../../job/api.ts';
import type { OrderRow, ProductRow } from '../../loadtest/cdc/model.ts';

type OrderChange = DebeziumChange<OrderRow>;
type ProductChange = DebeziumChange<ProductRow>;

const WINDOW_MS = 60_000;
const LOW_STOCK = 10;

/** Open windows by start time (ms). */
type RevenueState = { windows: Record<string, { orders: number; revenue: number }> };

/** One partition's share of one window, as emitted to `ecommerce.revenue_1m`. */
export type RevenueResult = { windowStart: number; windowEnd: number; orders: number; revenue: number; task: number };

/** An alert as emitted to `ecommerce.inventory_alerts`. */
export type InventoryAlert = {
  product_id: number;
  product_name: string;
  current_stock: number;
  threshold: number;
  alert_level: 'low' | 'out_of_stock';
  /** When the stock changed in the database, ms since the epoch. */
  changed_at: number;
};

/** When the order was placed: its `created_at` (µs), else when the database made the change. */
function orderTimeMs(change: OrderChange): number {
  const createdUs = change.after?.created_at;
  return createdUs == null ? change.source.ts_ms : Math.floor(createdUs / 1000);
}

/** The alert a stock change from `before` to `now` raises, if any. */
function alertLevel(before: number | null, now: number): InventoryAlert['alert_level'] | null {
  if (now <= 0) return before !== null && before <= 0 ? null : 'out_of_stock';
  if (now < LOW_STOCK) return before === null || before >= LOW_STOCK ? 'low' : null;
  return null;
}

export default defineJob({
  name: 'ecommerce-demo',
  sources: {
    orders: kafkaSource('ecommerce.public.orders', { format: debezium<OrderRow>(), partitions: 12 }),
    products: kafkaSource('ecommerce.public.products', { format: debezium<ProductRow>(), partitions: 12 }),
  },
  sinks: {
    revenue: kafkaSink('ecommerce.revenue_1m', { partitions: 12 }),
    alerts: kafkaSink('ecommerce.inventory_alerts', { partitions: 12 }),
  },
  watermark: { outOfOrdernessMs: 2000 },
  actors: {
    revenue: keyedActor({
      from: 'orders',
      key: (_change: OrderChange, meta) => `task-${meta.partition}`,
      eventTime: (change) => orderTimeMs(change),
      initial: (): RevenueState => ({ windows: {} }),
      onRecord(change, state, ctx) {
        if (change.op !== 'c' || change.after === null) return; // count each order once, when placed
        const start = Math.floor(orderTimeMs(change) / WINDOW_MS) * WINDOW_MS;
        const end = start + WINDOW_MS;
        if (end <= ctx.watermark) return; // too late: this window was already emitted
        const window = (state.windows[start] ??= { orders: 0, revenue: 0 });
        window.orders += 1;
        window.revenue = Math.round((window.revenue + change.after.total_amount) * 100) / 100;
        ctx.timers.atEventTime(end);
      },
      onTimer(timer, state, ctx) {
        const start = timer.timestampMs - WINDOW_MS;
        const window = state.windows[start];
        if (window === undefined) return;
        delete state.windows[start];
        const result: RevenueResult = { windowStart: start, windowEnd: timer.timestampMs, ...window, task: ctx.task };
        ctx.emit('revenue', ctx.key, result);
      },
    }),
    inventory: keyedActor({
      from: 'products',
      key: (change: ProductChange) => String((change.after ?? change.before)?.product_id),
      initial: () => ({ stock: null as number | null }),
      onRecord(change, state, ctx) {
        const product = change.after;
        if (product === null) return { stock: null }; // deleted (or truncated)
        const stock = product.stock_quantity ?? 0;
        const level = alertLevel(state.stock, stock);
        if (level !== null) {
          const alert: InventoryAlert = {
            product_id: product.product_id,
            product_name: product.name,
            current_stock: stock,
            threshold: LOW_STOCK,
            alert_level: level,
            changed_at: change.source.ts_ms,
          };
          ctx.emit('alerts', ctx.key, alert);
        }
        return { stock };
      },
    }),
  },
});

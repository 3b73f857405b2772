/**
 * The independent computation for the `ecommerce` job's tests: reads the same change events,
 * builds the final source tables by applying them per primary key, and evaluates each output's
 * definition over those tables directly, the way a SQL query over the database would. It shares
 * no code with the job (not even the Debezium decoder): exact cents, plain loops.
 */
import type { EcommerceOptions, InventoryAlert, RevenueWindow } from '../../examples/ecommerce/job.ts';

/** A change event as produced to Kafka. */
export type RawEvent = { topic: string; value: Buffer | Uint8Array | null };

type Row = Record<string, unknown>;
type Tables = Record<'users' | 'products' | 'orders' | 'order_items', Map<number, Row>>;
const PRIMARY_KEYS = { users: 'user_id', products: 'product_id', orders: 'order_id', order_items: 'item_id' } as const;

function envelopeOf(value: Buffer | Uint8Array | null): { op: string; before: Row | null; after: Row | null } | null {
  if (value === null) return null;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(Buffer.from(value).toString('utf8')) as Record<string, unknown>;
  } catch {
    return null; // not JSON: the job dead-letters it
  }
  const envelope = ('payload' in parsed ? parsed.payload : parsed) as { op?: string; before?: Row | null; after?: Row | null } | null;
  if (typeof envelope?.op !== 'string') return null;
  return { op: envelope.op, before: envelope.before ?? null, after: envelope.after ?? null };
}

/** The source tables after every event. */
export function finalTables(events: readonly RawEvent[]): Tables {
  const tables: Tables = { users: new Map(), products: new Map(), orders: new Map(), order_items: new Map() };
  for (const event of events) {
    const table = event.topic.split('.').pop() as keyof Tables;
    const envelope = envelopeOf(event.value);
    if (!(table in tables) || envelope === null) continue;
    const pk = PRIMARY_KEYS[table];
    if (envelope.op === 'd') tables[table].delete(Number((envelope.before as Row)[pk]));
    else if (envelope.after !== null) tables[table].set(Number(envelope.after[pk]), envelope.after);
  }
  return tables;
}

const cents = (amount: unknown): number => Math.round(Number(amount) * 100);

/** `ecommerce.revenue_5m` as the query over the final tables: window start (ISO) -> value. */
export function expectedRevenue(events: readonly RawEvent[], options: EcommerceOptions): Map<string, RevenueWindow> {
  const { orders, order_items: items, products } = finalTables(events);
  const windows = new Map<number, { count: number; cents: number; categories: Map<string, number> }>();
  for (const order of orders.values()) {
    if (order.status === 'cancelled') continue;
    const createdMs = Math.floor(Number(order.created_at) / 1000);
    const start = createdMs - (((createdMs % options.windowMs) + options.windowMs) % options.windowMs);
    const window = windows.get(start) ?? { count: 0, cents: 0, categories: new Map() };
    windows.set(start, window);
    window.count += 1;
    window.cents += cents(order.total_amount);
    for (const item of items.values()) {
      if (item.order_id !== order.order_id) continue;
      const product = products.get(Number(item.product_id));
      if (product === undefined || product.category === null) continue;
      const category = product.category as string;
      window.categories.set(category, (window.categories.get(category) ?? 0) + Number(item.quantity) * cents(item.unit_price));
    }
  }
  const result = new Map<string, RevenueWindow>();
  for (const [start, w] of windows) {
    const ranked = [...w.categories].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
    result.set(new Date(start).toISOString(), {
      window_start: new Date(start).toISOString(),
      window_end: new Date(start + options.windowMs).toISOString(),
      total_revenue: w.cents / 100,
      order_count: w.count,
      avg_order_value: Math.round(w.cents / w.count) / 100,
      top_category: ranked[0]?.[0] ?? null,
    });
  }
  return result;
}

/** `ecommerce.inventory_alerts` per product, in order: one alert each time the stock level changes into low, critical or out of stock. */
export function expectedAlerts(events: readonly RawEvent[], options: EcommerceOptions): Map<number, InventoryAlert[]> {
  const levels = new Map<number, string | null>();
  const alerts = new Map<number, InventoryAlert[]>();
  for (const event of events) {
    if (!event.topic.endsWith('.products')) continue;
    const envelope = envelopeOf(event.value);
    if (envelope === null) continue;
    const id = Number((envelope.after ?? envelope.before)?.product_id);
    if (envelope.op === 'd') {
      levels.delete(id);
      continue;
    }
    const product = envelope.after as Row;
    const stock = Number(product.stock_quantity ?? 0);
    const level = stock <= 0 ? 'out_of_stock' : stock < options.criticalStock ? 'critical' : stock < options.lowStock ? 'low' : null;
    if (level !== null && level !== (levels.get(id) ?? null)) {
      const threshold = level === 'low' ? options.lowStock : level === 'critical' ? options.criticalStock : 0;
      const list = alerts.get(id) ?? [];
      alerts.set(id, list);
      list.push({ product_id: id, product_name: String(product.name), current_stock: stock, threshold, alert_level: level });
    }
    levels.set(id, level);
  }
  return alerts;
}

/** A placed order as sessions see it: its user, when it was placed (ms) and its total at that moment. */
export type PlacedOrder = { user: number; atMs: number; cents: number };

/** Orders as first seen (insert or snapshot read), with a user. */
export function placedOrders(events: readonly RawEvent[]): PlacedOrder[] {
  const seen = new Set<number>();
  const placed: PlacedOrder[] = [];
  for (const event of events) {
    if (!event.topic.endsWith('.orders')) continue;
    const envelope = envelopeOf(event.value);
    if (envelope === null || envelope.after === null || (envelope.op !== 'c' && envelope.op !== 'r')) continue;
    const id = Number(envelope.after.order_id);
    if (seen.has(id) || envelope.after.user_id === null) continue;
    seen.add(id);
    placed.push({ user: Number(envelope.after.user_id), atMs: Math.floor(Number(envelope.after.created_at) / 1000), cents: cents(envelope.after.total_amount) });
  }
  return placed;
}

/** Session windows per user over `orders` (gap in ms): `user -> [{start, end, orders, cents}]` by start. */
export function expectedSessions(orders: readonly PlacedOrder[], gapMs: number): Map<number, { start: number; end: number; orders: number; cents: number }[]> {
  const byUser = new Map<number, PlacedOrder[]>();
  for (const order of orders) byUser.set(order.user, [...(byUser.get(order.user) ?? []), order]);
  const sessions = new Map<number, { start: number; end: number; orders: number; cents: number }[]>();
  for (const [user, list] of byUser) {
    const sorted = [...list].sort((a, b) => a.atMs - b.atMs);
    const out: { start: number; end: number; orders: number; cents: number }[] = [];
    for (const order of sorted) {
      const last = out[out.length - 1];
      if (last !== undefined && order.atMs <= last.end) {
        last.end = Math.max(last.end, order.atMs + gapMs);
        last.orders += 1;
        last.cents += order.cents;
      } else {
        out.push({ start: order.atMs, end: order.atMs + gapMs, orders: 1, cents: order.cents });
      }
    }
    sessions.set(user, out);
  }
  return sessions;
}

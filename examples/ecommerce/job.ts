/**
 * The `ecommerce` job (seed 004): analytics over the Debezium change events of the demo shop
 * (`products`, `orders`, `order_items`; see loadtest/cdc/model.ts), CDC-correct: an
 * update or delete of any source row corrects every result it fed.
 *
 *     order_items ⋈ products (foreign key) ─▶ lines ─group by order─▶ orderLines ─┐
 *     orders (not cancelled) ─────────────────────────────────────────────────────┴─⟕─▶ orderFacts ─group by window─▶ revenue_5m
 *     orders (created) ─session windows per user─▶ user_activity
 *     products (stock level crossings) ─▶ inventory_alerts
 */
import { avg, count, debezium, rules, type RuleSpec, isoUtc, kafkaSink, kafkaSource, natsSink, optionsFromEnv, postgresSink, streamsJob, sum, topN, topNWeighted, type LateRecord } from '../../job/api.ts';
import type { OrderItemRow, OrderRow, ProductRow } from '../../loadtest/cdc/model.ts';

/** What can be tuned; the default export uses {@link DEFAULTS}. */
export type EcommerceOptions = {
  /** Stock below this is `low`. */
  lowStock: number;
  /** Stock below this is `critical`. */
  criticalStock: number;
  /** Revenue window length. */
  windowMs: number;
  /** A user's session ends after this long without an order (event time). */
  sessionGapMs: number;
  /** How long after its end (in event time) a session still takes orders; later ones go to `late`. */
  allowedLatenessMs: number;
  /**
   * How long (event time) after its end a revenue window keeps its state and takes corrections;
   * then its state is deleted (TTL) and later changes to its orders go to `late`.
   */
  windowRetentionMs: number;
  /** How far out of event-time order records may arrive and still be on time. */
  outOfOrdernessMs: number;
  /**
   * A source (or an upstream task of a repartition topic) without records for this long, in
   * processing time, stops holding the watermark back. Longer than a worker's recovery (a few
   * seconds), so that a task restarting elsewhere holds the sessions back instead of making
   * its orders late.
   */
  idleSourceMs: number;
  /** Partitions of the source topics (and so tasks), when Eddy creates them. */
  partitions: number;
  /**
   * Debezium's `topic.prefix`: the job reads `<prefix>.<sourceSchema>.<table>`, writes `<prefix>.<output>`
   * and is named `<prefix>` (default `ecommerce`), so several copies can share a Kafka cluster.
   */
  topicPrefix: string;
  /**
   * The middle part of the source topics, `<prefix>.<sourceSchema>.<table>`: `public` for
   * PostgreSQL (the schema), `ecommerce` for MySQL/MariaDB (the database).
   */
  sourceSchema: string;
  /**
   * Where results go: `kafka` (topics `<prefix>.revenue_5m`, `.inventory_alerts`,
   * `.user_activity`) or `postgres`: seed 004's tables `analytics.revenue_analytics` (upserted
   * per window), `analytics.inventory_alerts` and `analytics.user_activity` (appended), in the
   * database of the workers' `EDDY_POSTGRES_URL`, exactly-once. Either way the inventory alerts
   * are also published on NATS `alerts.inventory` as they happen (at-least-once), and late
   * records go to Kafka.
   */
  output: 'kafka' | 'postgres';
  /** The NATS subject the inventory alerts are published on as they happen (at-least-once). */
  alertsSubject: string;
};

export const DEFAULTS: EcommerceOptions = { lowStock: 10, criticalStock: 3, windowMs: 5 * 60_000, sessionGapMs: 30 * 60_000, allowedLatenessMs: 60_000, windowRetentionMs: 7 * 86_400_000, outOfOrdernessMs: 5_000, idleSourceMs: 15_000, partitions: 12, topicPrefix: 'ecommerce', sourceSchema: 'public', output: 'kafka', alertsSubject: 'alerts.inventory' };

/** An `ecommerce.revenue_5m` value. */
export type RevenueWindow = { window_start: string; window_end: string; total_revenue: number; order_count: number; avg_order_value: number; top_category: string | null };
/** An `ecommerce.inventory_alerts` value. */
export type InventoryAlert = { product_id: number; product_name: string; current_stock: number; threshold: number; alert_level: AlertLevel };
export type AlertLevel = 'low' | 'critical' | 'out_of_stock';
/** An `ecommerce.user_activity` value: one closed session. */
export type UserSession = { user_id: number; session_start: string; session_end: string; orders_placed: number; total_spent: number; last_activity: string };
export type { LateRecord };


export function createEcommerceJob(options: Partial<EcommerceOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const level = (stock: number): AlertLevel | null => (stock <= 0 ? 'out_of_stock' : stock < o.criticalStock ? 'critical' : stock < o.lowStock ? 'low' : null);
  const threshold: Record<AlertLevel, number> = { low: o.lowStock, critical: o.criticalStock, out_of_stock: 0 };
  const createdMs = (r: OrderRow) => Math.floor((r.created_at as number) / 1000);
  const windowOf = (ms: number) => isoUtc(ms - (ms % o.windowMs));
  // Each row is checked against the types the job computes with: a column whose type changes
  // under the job (ALTER TABLE ... TYPE text) sends its changes to the dead letters with the reason.
  const source = <Row>(table: string, types: RuleSpec<Row>['types']) => kafkaSource(`${o.topicPrefix}.${o.sourceSchema}.${table}`, { format: debezium<Row>({ validate: rules<Row>({ types }) }), partitions: o.partitions });
  const sink = (output: string, upsert = false) => kafkaSink(`${o.topicPrefix}.${output}`, { partitions: o.partitions, upsert });
  const spec = {
    name: o.topicPrefix,
    sources: {
      orders: source<OrderRow>('orders', { order_id: 'integer', user_id: 'integer', total_amount: 'number', status: 'string', created_at: 'integer' }),
      items: source<OrderItemRow>('order_items', { item_id: 'integer', order_id: 'integer', product_id: 'integer', quantity: 'integer', unit_price: 'number' }),
      products: source<ProductRow>('products', { product_id: 'integer', name: 'string', category: 'string', stock_quantity: 'integer' }),
    },
    sinks:
      o.output === 'postgres'
        ? { revenue: postgresSink('analytics.revenue_analytics', { key: ['window_start'] }), alerts: postgresSink('analytics.inventory_alerts'), activity: postgresSink('analytics.user_activity'), late: sink('late'), notify: natsSink(o.alertsSubject) }
        : { revenue: sink('revenue_5m', true), alerts: sink('inventory_alerts'), activity: sink('user_activity'), late: sink('late'), notify: natsSink(o.alertsSubject) },
    watermark: { outOfOrdernessMs: o.outOfOrdernessMs, idleSourceMs: o.idleSourceMs },
  };
  return streamsJob(spec, (b) => {
    const orders = b.table('orders', 'order_id', { eventTime: (c) => c.source.ts_ms }); // when the change happened; windows and sessions use created_at
    const products = b.table('products', 'product_id');
    // Per order, the amount of each category over its items' current products.
    const orderLines = b
      .table('items', 'item_id')
      .filter((i) => i.order_id !== null && i.product_id !== null)
      .joinForeign('lines', products.mapValues((p) => ({ category: p.category })), (i) => String(i.product_id), (i, p) => ({ order_id: i.order_id, category: p?.category ?? null, amount: i.quantity * i.unit_price }))
      .groupBy((line) => String(line.order_id))
      .aggregate('orderLines', { categories: topN((l) => l.category, (l) => l.amount, { n: Infinity }) });
    orders
      .filter((r) => r.status !== 'cancelled' && r.created_at !== null)
      .leftJoin('orderFacts', orderLines, (r, lines) => ({ created_ms: createdMs(r), total: r.total_amount, categories: lines?.categories ?? [] }))
      .groupBy((fact) => windowOf(fact.created_ms))
      .aggregate(
        'revenue_5m',
        { orders: count(), revenue: sum((f) => f.total), average: avg((f) => f.total), top: topNWeighted((f) => f.categories.map((c) => [c.group, c.weight] as const)) },
        {
          result: (r, start): RevenueWindow => ({ window_start: start, window_end: isoUtc(Date.parse(start) + o.windowMs), total_revenue: r.revenue, order_count: r.orders, avg_order_value: r.average ?? 0, top_category: r.top[0]?.group ?? null }),
          closesAt: (start) => Date.parse(start) + o.windowMs + o.windowRetentionMs, // then its state goes and corrections are late
          late: 'late',
        },
      )
      .to('revenue');
    // One alert per crossing of a stock level, not per update; also published on NATS
    // `alerts.inventory` for a notification service, at once (at-least-once).
    const alerts = products
      .changes((before, after): InventoryAlert | null => {
        const now = after === null ? null : level(after.stock_quantity ?? 0);
        if (after === null || now === null || (before !== null && level(before.stock_quantity ?? 0) === now)) return null;
        return { product_id: after.product_id, product_name: after.name, current_stock: after.stock_quantity ?? 0, threshold: threshold[now], alert_level: now };
      });
    alerts.to('alerts');
    alerts.to('notify');
    // Sessions of placed orders per user, emitted once closed; orders after that are late.
    orders
      .changes((before, after) => (before === null && after !== null && after.user_id !== null && after.created_at !== null ? after : null))
      .withTimestamp(createdMs)
      .groupBy((r) => String(r.user_id))
      .sessions(o.sessionGapMs, { allowedLatenessMs: o.allowedLatenessMs, late: 'late' })
      .aggregate('user_activity', {
        of: (r) => ({ orders: 1, total: r.total_amount }),
        merge: (a, c) => ({ orders: a.orders + c.orders, total: Math.round((a.total + c.total) * 100) / 100 }),
        result: (s, { key, start, end }): UserSession => ({ user_id: Number(key), session_start: isoUtc(start), session_end: isoUtc(end), orders_placed: s.orders, total_spent: s.total, last_activity: isoUtc(end - o.sessionGapMs) }), // a session ends a gap after its last order
      })
      .to('activity');
  });
}

export default createEcommerceJob(optionsFromEnv('EDDY_ECOMMERCE', DEFAULTS));

/**
 * The `ecommerce` job (seed 004): analytics over the Debezium change events of the demo shop
 * (`products`, `orders`, `order_items`; see loadtest/cdc/model.ts), CDC-correct: an
 * update or delete of any source row corrects every result it fed.
 *
 *     order_items ─items─▶ itemsByProduct ─┐
 *     products ──products─▶ productsById ──┴─lines (FK join)─▶ linesByOrder ─┐
 *     orders ────orders───▶ ordersById ─────────────────────────────────────┴─orderFacts─▶ contributions ─revenue─▶ ecommerce.revenue_5m
 *                   └─────▶ ordersByUser ─sessions─▶ ecommerce.user_activity
 *     products ──products─▶ ecommerce.inventory_alerts
 *
 * Every arrow into a repartition topic re-keys: `items` by product, `lines` by order, `orderFacts`
 * by window. Each actor keeps the rows it needs and emits retractions and additions.
 */
import {
  addToSession,
  aggregate,
  cdcTable,
  avg,
  changesBetween,
  emitChanges,
  count,
  debezium,
  defineJob,
  isAddition,
  isClosed,
  isoUtc,
  kafkaSink,
  kafkaSource,
  keyedActor,
  lateReason,
  manyToOne,
  repartition,
  sum,
  topNWeighted,
  tumbling,
  type Change,
  type JoinState,
  type Session,
  type Tagged,
} from '../../job/api.ts';
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
   * Debezium's `topic.prefix`: the job reads `<prefix>.public.<table>`, writes `<prefix>.<output>`
   * and is named `<prefix>` (default `ecommerce`), so several copies can share a Kafka cluster.
   */
  topicPrefix: string;
};

export const DEFAULTS: EcommerceOptions = { lowStock: 10, criticalStock: 3, windowMs: 5 * 60_000, sessionGapMs: 30 * 60_000, allowedLatenessMs: 60_000, windowRetentionMs: 7 * 86_400_000, outOfOrdernessMs: 5_000, idleSourceMs: 15_000, partitions: 12, topicPrefix: 'ecommerce' };

/** An `ecommerce.revenue_5m` value. */
export type RevenueWindow = { window_start: string; window_end: string; total_revenue: number; order_count: number; avg_order_value: number; top_category: string | null };
/** An `ecommerce.inventory_alerts` value. */
export type InventoryAlert = { product_id: number; product_name: string; current_stock: number; threshold: number; alert_level: AlertLevel };
export type AlertLevel = 'low' | 'critical' | 'out_of_stock';
/** An `ecommerce.user_activity` value: one closed session. */
export type UserSession = { user_id: number; session_start: string; session_end: string; orders: number; total_spent: number };
/** An `ecommerce.late` value: a record that came after its window closed. */
export type LateRecord = { output: string; key: string; event_time: string; reason: string };

type Item = { item_id: number; order_id: number; product_id: number; amount: number };
type Category = { product_id: number; category: string | null };
type Line = { item_id: number; order_id: number; category: string | null; amount: number };
type OrderFact = { order_id: number; user_id: number | null; status: string | null; created_ms: number; total: number };
type Contribution = { order_id: number; total: number; lines: Line[] };
type Placed = { order_id: number; user_id: number; total: number };

const μsToMs = (μs: number): number => Math.floor(μs / 1000);
const lineOf = (item: Item, product: Category | null): Line => ({ item_id: item.item_id, order_id: item.order_id, category: product?.category ?? null, amount: item.amount });

/** Sums per window: orders, revenue, average, and revenue per category of the orders' current items. */
const windowAggregate = aggregate({
  orders: count<Contribution>(),
  revenue: sum((c: Contribution) => c.total),
  average: avg((c: Contribution) => c.total),
  categories: topNWeighted((c: Contribution) => c.lines.flatMap((l): [string, number][] => (l.category === null ? [] : [[l.category, l.amount]])), { n: 1 }),
});
const lines = manyToOne((item: Item) => String(item.item_id), lineOf);

export function createEcommerceJob(options: Partial<EcommerceOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const windowOf = tumbling(o.windowMs);
  const level = (stock: number): AlertLevel | null => (stock <= 0 ? 'out_of_stock' : stock < o.criticalStock ? 'critical' : stock < o.lowStock ? 'low' : null);
  const threshold: Record<AlertLevel, number> = { low: o.lowStock, critical: o.criticalStock, out_of_stock: 0 };
  const source = <Row>(table: string) => kafkaSource(`${o.topicPrefix}.public.${table}`, { format: debezium<Row>(), partitions: o.partitions });
  const sink = (output: string) => kafkaSink(`${o.topicPrefix}.${output}`, { partitions: o.partitions });

  return defineJob({
    name: o.topicPrefix,
    sources: { orders: source<OrderRow>('orders'), items: source<OrderItemRow>('order_items'), products: source<ProductRow>('products') },
    sinks: {
      revenue: kafkaSink(`${o.topicPrefix}.revenue_5m`, { partitions: o.partitions, upsert: true }),
      alerts: sink('inventory_alerts'),
      activity: sink('user_activity'),
      late: sink('late'),
    },
    repartitions: {
      itemsByProduct: repartition<Change<Item>>('product_id'),
      productsById: repartition<Change<Category>>('product_id'),
      linesByOrder: repartition<Change<Line>>('order_id'),
      ordersById: repartition<Change<OrderFact>>('order_id'),
      contributions: repartition<Change<Contribution>>('window_start'),
      ordersByUser: repartition<Placed>('user_id'),
    },
    watermark: { outOfOrdernessMs: o.outOfOrdernessMs, idleSourceMs: o.idleSourceMs },
    actors: {
      // order_items as a table; each item re-keyed by its product, for the join.
      items: cdcTable<OrderItemRow>({
        from: 'items',
        key: 'item_id',
        onChange(changes, _rows, ctx) {
          for (const { row: r, ...c } of changes) {
            if (r.order_id === null || r.product_id === null) continue; // an item of no order or product joins nothing
            const item: Item = { item_id: r.item_id, order_id: r.order_id, product_id: r.product_id, amount: Math.round(r.quantity * r.unit_price * 100) / 100 };
            emitChanges(ctx, 'itemsByProduct', String(r.product_id), [{ ...c, row: item }]);
          }
        },
      }),
      // products as a table: categories re-keyed for the join, stock levels checked for alerts.
      products: cdcTable<ProductRow>({
        from: 'products',
        key: 'product_id',
        onChange(_changes, { before, after }, ctx) {
          const category = (r: ProductRow | null): Category | null => (r === null ? null : { product_id: r.product_id, category: r.category });
          emitChanges(ctx, 'productsById', ctx.key, changesBetween(category(before), category(after), ctx.eventTime));
          const [was, now] = [before, after].map((r) => (r === null ? null : level(r.stock_quantity ?? 0)));
          if (after === null || now === null || now === undefined || now === was) return; // one alert per crossing
          ctx.emit('alerts', ctx.key, { product_id: after.product_id, product_name: after.name, current_stock: after.stock_quantity ?? 0, threshold: threshold[now], alert_level: now } satisfies InventoryAlert);
        },
      }),
      // order_items ⋈ products on product_id: each item's line with its product's current category.
      lines: keyedActor({
        from: ['itemsByProduct', 'productsById'],
        key: (r: Tagged<{ itemsByProduct: Change<Item>; productsById: Change<Category> }>) => String(r.value.row.product_id),
        initial: (): JoinState<Item, Category> => lines.init(),
        onRecord(r, state, ctx) {
          const { state: next, changes } = r.source === 'itemsByProduct' ? lines.many(state, r.value) : lines.one(state, r.value);
          for (const c of changes) emitChanges(ctx, 'linesByOrder', String(c.row.order_id), [c]);
          return next;
        },
      }),
      // orders as a table, re-keyed by order id (for the lines) and, when placed, by user (sessions).
      orders: cdcTable<OrderRow>({
        from: 'orders',
        key: 'order_id',
        eventTime: (c) => c.source.ts_ms, // when the change happened; windows and sessions use created_at
        onChange(changes, { before, after }, ctx) {
          const createdMs = (r: OrderRow) => (r.created_at === null ? ctx.eventTime : μsToMs(r.created_at));
          const fact = (r: OrderRow): OrderFact => ({ order_id: r.order_id, user_id: r.user_id, status: r.status, created_ms: createdMs(r), total: r.total_amount });
          emitChanges(ctx, 'ordersById', ctx.key, changes.map((c) => ({ ...c, row: fact(c.row) })));
          if (before !== null || after === null || after.user_id === null) return;
          ctx.emit('ordersByUser', String(after.user_id), { order_id: after.order_id, user_id: after.user_id, total: after.total_amount } satisfies Placed, { timestamp: createdMs(after) });
        },
      }),
      // Per order: its lines and status; what it contributes to its window (nothing once cancelled).
      // An item that moved to another product is retracted by one task and added by another, in
      // either order, so lines are a multiset: the net count of each version, current when > 0.
      orderFacts: keyedActor({
        from: ['ordersById', 'linesByOrder'],
        key: (r: Tagged<{ ordersById: Change<OrderFact>; linesByOrder: Change<Line> }>) => String(r.value.row.order_id),
        initial: (): { order: OrderFact | null; lines: Record<string, number> } => ({ order: null, lines: {} }),
        onRecord(r, state, ctx) {
          const next = { order: state.order, lines: { ...state.lines } };
          if (r.source === 'ordersById') next.order = isAddition(r.value.op) ? r.value.row : null;
          else {
            const version = JSON.stringify(r.value.row);
            const net = (next.lines[version] ?? 0) + (isAddition(r.value.op) ? 1 : -1);
            if (net === 0) delete next.lines[version];
            else next.lines[version] = net;
          }
          const current = (s: typeof state): Line[] =>
            Object.entries(s.lines)
              .filter(([, net]) => net > 0)
              .map(([version]) => JSON.parse(version) as Line)
              .sort((a, b) => a.item_id - b.item_id);
          const contribution = (s: typeof state): { window: number; row: Contribution } | null =>
            s.order === null || s.order.status === 'cancelled'
              ? null
              : { window: (windowOf(s.order.created_ms)[0] as { start: number }).start, row: { order_id: s.order.order_id, total: s.order.total, lines: current(s) } };
          const [before, after] = [contribution(state), contribution(next)];
          // Stamped with the time of the change (not the window): it is what revenue_5m's outputs carry.
          const ts = ctx.eventTime;
          if (before !== null && (after === null || after.window !== before.window)) emitChanges(ctx, 'contributions', isoUtc(before.window), [{ op: 'delete', row: before.row, ts }]);
          if (after !== null && before?.window === after.window) emitChanges(ctx, 'contributions', isoUtc(after.window), changesBetween(before.row, after.row, ts));
          else if (after !== null) emitChanges(ctx, 'contributions', isoUtc(after.window), [{ op: 'insert', row: after.row, ts }]);
          return next.order === null && Object.keys(next.lines).length === 0 ? { order: null, lines: {} } : next;
        },
      }),
      // Per window: the aggregate over its orders' current contributions, as an upsert stream,
      // until windowRetentionMs after its end; then its state goes and corrections are late.
      revenue: keyedActor({
        from: 'contributions',
        key: (_c: Change<Contribution>, meta) => meta.key ?? '',
        initial: () => windowAggregate.init(),
        onRecord(change, state, ctx) {
          const window = { start: Date.parse(ctx.key), end: Date.parse(ctx.key) + o.windowMs };
          if (isClosed(window.end, ctx.watermark, o.windowRetentionMs)) {
            const late: LateRecord = { output: 'revenue_5m', key: ctx.key, event_time: isoUtc(ctx.eventTime), reason: `order ${change.row.order_id} changed after its window's retention: ${lateReason(window.start, window, ctx.watermark, o.windowRetentionMs)}` };
            ctx.emit('late', ctx.key, late);
            return;
          }
          ctx.timers.atEventTime(window.end + o.windowRetentionMs);
          const next = windowAggregate.apply(state, change);
          if (windowAggregate.isEmpty(next)) {
            ctx.emit('revenue', ctx.key, null);
            return windowAggregate.init();
          }
          const { orders, revenue, average, categories } = windowAggregate.result(next);
          const start = Date.parse(ctx.key);
          const value: RevenueWindow = { window_start: ctx.key, window_end: isoUtc(start + o.windowMs), total_revenue: revenue, order_count: orders, avg_order_value: average ?? 0, top_category: categories[0]?.group ?? null };
          ctx.emit('revenue', ctx.key, value);
          return next;
        },
        onTimer: () => windowAggregate.init(), // retention over: the state is deleted
      }),
      // Per user: session windows of placed orders, emitted once closed; orders after that are late.
      sessions: keyedActor({
        from: 'ordersByUser',
        key: (p: Placed) => String(p.user_id),
        initial: (): { sessions: Session<{ orders: number; total: number }>[] } => ({ sessions: [] }),
        onRecord(placed, state, ctx) {
          const ts = ctx.eventTime;
          const own = { start: ts, end: ts + o.sessionGapMs };
          const joinsOpen = state.sessions.some((s) => s.start <= own.end && own.start <= s.end);
          if (!joinsOpen && isClosed(own.end, ctx.watermark, o.allowedLatenessMs)) {
            const late: LateRecord = { output: 'user_activity', key: ctx.key, event_time: isoUtc(ts), reason: lateReason(ts, own, ctx.watermark, o.allowedLatenessMs) };
            ctx.emit('late', ctx.key, late);
            return;
          }
          const { sessions, session, merged } = addToSession(state.sessions, ts, o.sessionGapMs, { orders: 1, total: placed.total }, (a, b) => ({ orders: a.orders + b.orders, total: Math.round((a.total + b.total) * 100) / 100 }));
          for (const old of merged) ctx.timers.cancel('event-time', old.end + o.allowedLatenessMs);
          ctx.timers.atEventTime(session.end + o.allowedLatenessMs);
          return { sessions };
        },
        onTimer(timer, state, ctx) {
          const closing = state.sessions.filter((s) => s.end + o.allowedLatenessMs <= timer.timestampMs);
          for (const s of closing) {
            const value: UserSession = { user_id: Number(ctx.key), session_start: isoUtc(s.start), session_end: isoUtc(s.end), orders: s.value.orders, total_spent: s.value.total };
            ctx.emit('activity', ctx.key, value);
          }
          return { sessions: state.sessions.filter((s) => !closing.includes(s)) };
        },
      }),
    },
  });
}

/**
 * The options in `EDDY_ECOMMERCE` (JSON of {@link EcommerceOptions}, any subset), so a cluster
 * started with `--job ecommerce` can be tuned without another module.
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<EcommerceOptions> {
  const text = env.EDDY_ECOMMERCE;
  if (text === undefined || text === '') return {};
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`EDDY_ECOMMERCE must be a JSON object of options, got ${text}`);
  for (const [name, value] of Object.entries(parsed)) {
    if (!(name in DEFAULTS)) throw new Error(`EDDY_ECOMMERCE: unknown option '${name}' (options: ${Object.keys(DEFAULTS).join(', ')})`);
    if (typeof value !== typeof DEFAULTS[name as keyof EcommerceOptions]) throw new Error(`EDDY_ECOMMERCE: option '${name}' must be a ${typeof DEFAULTS[name as keyof EcommerceOptions]}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

export default createEcommerceJob(optionsFromEnv());

/**
 * The streams DSL (job/streams/) on the test driver: random changes to two tables through a
 * foreign-key join, a same-key join and aggregates that retract, compared after every round with
 * the same query over the current tables; filters that turn updates into deletes; windows that
 * emit on close and send late records to the late output; and definition errors.
 */
import { describe, expect, it } from 'vitest';
import { count, debezium, json, kafkaSink, kafkaSource, max, streamsJob, sum, tumbling, type LateRecord } from '../../job/api.ts';
import { JobTestDriver } from '../../job/testing/driver.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';

type Product = { product_id: number; category: string; active: boolean };
type Item = { item_id: number; product_id: number; amount: number };
type Click = { id: string; page: string; ts: number };

const PARTITIONS = 3;

function envelope<Row>(op: 'c' | 'u' | 'd' | 't', before: Row | null, after: Row | null, ts: number) {
  return { op, before, after, source: { connector: 'postgresql', name: 'test', ts_ms: ts, db: 'test', table: 't' }, ts_ms: ts };
}

/**
 * Items joined to their products (a foreign key), by category: items, amount, and the largest
 * amount; each line joined again to its item; products joined by id to their item counts.
 */
function shopJob() {
  const source = <Row>(topic: string) => kafkaSource(topic, { format: debezium<Row>(), partitions: PARTITIONS });
  const spec = {
    name: 'shop',
    sources: { products: source<Product>('shop.products'), items: source<Item>('shop.items') },
    sinks: { byCategory: kafkaSink('shop.by_category', { upsert: true }), productItems: kafkaSink('shop.product_items', { upsert: true }), lineFlags: kafkaSink('shop.line_flags', { upsert: true }), active: kafkaSink('shop.active', { upsert: true }) },
  };
  return streamsJob(spec, (b) => {
    const products = b.table('products', 'product_id');
    const items = b.table('items', 'item_id');
    const lines = items.joinForeign('lines', products, (i) => String(i.product_id), (i, p) => ({ category: p?.category ?? 'none', amount: i.amount }), 'left');
    // A join fed by a foreign-key join: a line's retraction and its new version come from two tasks, in either order.
    lines.join('lineFlags', items.mapValues((i) => ({ big: i.amount >= 50 })), (l, i) => ({ category: l.category, big: i.big })).to('lineFlags');
    lines
      .groupBy((l) => l.category)
      .aggregate('byCategory', { items: count(), total: sum((l) => l.amount), largest: max((l) => l.amount) })
      .to('byCategory');
    const perProduct = items.groupBy((i) => String(i.product_id)).aggregate('perProduct', { items: count() });
    products.join('productItems', perProduct, (p, n) => ({ category: p.category, items: n.items })).to('productItems');
    products.filter((p) => p.active).mapValues((p) => ({ category: p.category })).to('active');
  });
}

/** The query over the current tables, computed independently. */
function expected(products: Map<number, Product>, items: Map<number, Item>) {
  const byCategory = new Map<string, { items: number; total: number; largest: number }>();
  const perProduct = new Map<number, number>();
  for (const item of items.values()) {
    const category = products.get(item.product_id)?.category ?? 'none';
    const group = byCategory.get(category) ?? { items: 0, total: 0, largest: -Infinity };
    byCategory.set(category, { items: group.items + 1, total: Math.round((group.total + item.amount) * 100) / 100, largest: Math.max(group.largest, item.amount) });
    perProduct.set(item.product_id, (perProduct.get(item.product_id) ?? 0) + 1);
  }
  const productItems = new Map<string, { category: string; items: number }>();
  for (const [id, n] of perProduct) {
    const product = products.get(id);
    if (product !== undefined) productItems.set(String(id), { category: product.category, items: n });
  }
  const lineFlags = new Map([...items.values()].map((i) => [String(i.item_id), { category: products.get(i.product_id)?.category ?? 'none', big: i.amount >= 50 }]));
  const active = new Map([...products.values()].filter((p) => p.active).map((p) => [String(p.product_id), { category: p.category }]));
  return { byCategory, productItems, active, lineFlags };
}

describe('streams DSL', () => {
  it.each([
    [false, false],
    [true, false],
    [true, true],
  ])('keeps joins and aggregates equal to the query over the current tables under random changes (crashes: %s, truncates: %s)', async (crashes, truncates) => {
    const driver = await JobTestDriver.start(shopJob(), { partitions: PARTITIONS });
    const random = new SeededRandom(crashes ? (truncates ? 13 : 12) : 11);
    let truncated = 0;
    const products = new Map<number, Product>();
    const items = new Map<number, Item>();
    const categories = ['books', 'games', 'tools', 'toys'];
    let ts = Date.UTC(2025, 0, 1);
    try {
      for (let round = 0; round < 40; round++) {
        for (let n = 0; n < 30; n++) {
          ts += 1_000;
          if (truncates && random.int(0, 150) === 0) {
            // A truncate has no key: it lands on any partition, and must clear the rows of every task.
            const table = random.pick(['products', 'items'] as const);
            (table === 'products' ? products : items).clear();
            driver.send(table, { key: null, value: envelope('t', null, null, ts), timestamp: ts, partition: random.int(0, PARTITIONS - 1) });
            truncated += 1;
          } else if (random.int(0, 2) === 0) {
            const id = random.int(1, 12);
            const before = products.get(id) ?? null;
            const after = random.int(0, 5) === 0 ? null : { product_id: id, category: random.pick(categories), active: random.int(0, 1) === 1 };
            if (before === null && after === null) continue;
            if (after === null) products.delete(id);
            else products.set(id, after);
            driver.send('products', { key: JSON.stringify({ product_id: id }), value: envelope(after === null ? 'd' : before === null ? 'c' : 'u', before, after, ts), timestamp: ts });
          } else {
            const id = random.int(1, 60);
            const before = items.get(id) ?? null;
            // Items move between products often, so a line's retraction and addition come from two tasks.
            const after = random.int(0, 6) === 0 ? null : { item_id: id, product_id: random.int(1, 14), amount: random.int(1, 10_000) / 100 };
            if (before === null && after === null) continue;
            if (after === null) items.delete(id);
            else items.set(id, after);
            driver.send('items', { key: JSON.stringify({ item_id: id }), value: envelope(after === null ? 'd' : before === null ? 'c' : 'u', before, after, ts), timestamp: ts });
          }
        }
        for (let n = random.int(0, 40); n > 0 && (await driver.step()); n--);
        if (crashes && random.int(0, 2) === 0) await driver.checkpoint();
        if (crashes && random.int(0, 2) === 0) await driver.crash();
        await driver.run();
        const want = expected(products, items);
        expect(driver.table('byCategory')).toEqual(want.byCategory);
        expect(driver.table('productItems')).toEqual(want.productItems);
        expect(driver.table('active')).toEqual(want.active);
        expect(driver.table('lineFlags')).toEqual(want.lineFlags);
      }
      if (truncates) expect(truncated).toBeGreaterThan(3);
    } finally {
      await driver.close();
    }
  }, 60_000);

  it('orders a truncate against row changes by source position, whichever partition each came through', async () => {
    const spec = {
      name: 'catalog',
      sources: { products: kafkaSource('catalog.products', { format: debezium<Product>(), partitions: 2 }) },
      sinks: { out: kafkaSink('catalog.out', { upsert: true }) },
    };
    const driver = await JobTestDriver.start(streamsJob(spec, (b) => b.table('products', 'product_id').to('out')), { partitions: 2 });
    try {
      const change = (id: number, category: string, lsn: number) => ({
        key: JSON.stringify({ product_id: id }),
        value: { ...envelope('c', null, { product_id: id, category, active: true }, 1_000 + lsn), source: { connector: 'postgresql', name: 'catalog', ts_ms: 1_000 + lsn, db: 'catalog', table: 'products', lsn } },
      });
      driver.send('products', [change(1, 'books', 10), change(2, 'games', 11), change(3, 'tools', 12)]);
      await driver.run();
      expect([...driver.table('out').keys()].sort()).toEqual(['1', '2', '3']);
      // The truncate (LSN 20) reaches partition 0 only; rows of both partitions go, as deletes.
      driver.send('products', { key: null, value: { ...envelope('t', null, null, 1_020), source: { connector: 'postgresql', name: 'catalog', ts_ms: 1_020, db: 'catalog', table: 'products', lsn: 20 } }, partition: 0 });
      await driver.run();
      expect(driver.table('out')).toEqual(new Map());
      expect(driver.outputs('out').filter((o) => o.value === null)).toHaveLength(3);
      // A partition that lagged delivers a change made before the truncate (LSN 15): it stays gone.
      // One made after it (LSN 25) is a row again.
      driver.send('products', [change(4, 'toys', 15), change(5, 'books', 25)]);
      await driver.run();
      expect(driver.table('out')).toEqual(new Map([['5', { product_id: 5, category: 'books', active: true }]]));
      expect(driver.counters().get('truncated.products')).toBe(1);
    } finally {
      await driver.close();
    }
  });

  it('emits a window once when it closes and sends a record for a closed window to the late output with the reason', async () => {
    const spec = {
      name: 'clicks',
      sources: { clicks: kafkaSource('clicks', { format: json<Click>(), partitions: 1 }) },
      sinks: { perPage: kafkaSink('clicks.per_page'), late: kafkaSink('clicks.late') },
    };
    const job = streamsJob(spec, (b) =>
      b
        .stream('clicks', { eventTime: (c) => c.ts })
        .distinct('dedup', (c) => c.id, 60_000)
        .groupBy((c) => c.page)
        .windowedBy(tumbling(60_000), { allowedLatenessMs: 10_000, late: 'late' })
        .aggregate('perPage', { init: () => 0, add: (n) => n + 1, result: (n, w) => ({ page: w.key, start: w.start, clicks: n }) })
        .to('perPage'),
    );
    const driver = await JobTestDriver.start(job, { partitions: 1 });
    try {
      const click = (id: string, page: string, ts: number) => ({ key: page, value: { id, page, ts } });
      driver.send('clicks', [click('a', 'home', 1_000), click('b', 'home', 2_000), click('a', 'home', 2_500), click('c', 'cart', 3_000)]);
      await driver.run();
      expect(driver.outputs('perPage')).toEqual([]); // open windows emit nothing yet
      driver.send('clicks', click('d', 'home', 75_000)); // the watermark passes 60 s + 10 s of lateness
      await driver.run();
      expect(driver.values('perPage')).toEqual([
        { page: 'cart', start: 0, clicks: 1 },
        { page: 'home', start: 0, clicks: 2 },
      ]);
      expect(driver.outputs('perPage').map((o) => o.key)).toEqual([`cart@${new Date(0).toISOString()}`, `home@${new Date(0).toISOString()}`]);
      // A sink's event time is a header; its Kafka timestamp stays the time of writing, which an
      // old event time would otherwise be, and retention would delete the record.
      expect(driver.outputs('perPage').map((o) => [o.timestamp, o.headers?.['eddy.event.time']])).toEqual([
        [undefined, '59999'],
        [undefined, '59999'],
      ]);
      driver.send('clicks', click('e', 'home', 4_000));
      await driver.run();
      const late = driver.values<LateRecord>('late');
      expect(late).toHaveLength(1);
      expect(late[0]).toMatchObject({ output: 'perPage', key: 'home', record: { id: 'e' } });
      expect(late[0]?.reason).toMatch(/closed since the watermark reached/);
      expect(driver.counters().get('duplicates')).toBe(1);
      expect(driver.counters().get('late.perPage')).toBe(1);
    } finally {
      await driver.close();
    }
  });

  it('joins stream records with the table row current when each is handled (inner and left)', async () => {
    type Visit = { id: string; product_id: number };
    const spec = {
      name: 'visits',
      sources: { visits: kafkaSource('visits', { format: json<Visit>(), partitions: 2 }), products: kafkaSource('visits.products', { format: debezium<Product>(), partitions: 2 }) },
      sinks: { inner: kafkaSink('visits.inner'), left: kafkaSink('visits.left') },
    };
    const job = streamsJob(spec, (b) => {
      const products = b.table('products', 'product_id');
      const visits = b.stream('visits');
      const combine = (v: Visit, p: Product | null) => ({ visit: v.id, category: p?.category ?? null });
      visits.join('withProduct', products, (v) => String(v.product_id), combine).to('inner');
      visits.join('withProductOrNot', products, (v) => String(v.product_id), combine, 'left').to('left');
    });
    const driver = await JobTestDriver.start(job, { partitions: 2 });
    try {
      const product = (op: 'c' | 'u', category: string, before: Product | null) => ({ key: '{"product_id":1}', value: envelope(op, before, { product_id: 1, category, active: true }, 1_000) });
      driver.send('visits', { key: 'v1', value: { id: 'v1', product_id: 1 } });
      await driver.run();
      driver.send('products', product('c', 'books', null));
      await driver.run();
      driver.send('visits', { key: 'v2', value: { id: 'v2', product_id: 1 } });
      await driver.run();
      driver.send('products', product('u', 'games', { product_id: 1, category: 'books', active: true }));
      await driver.run();
      driver.send('visits', { key: 'v3', value: { id: 'v3', product_id: 1 } });
      await driver.run();
      expect(driver.values('inner')).toEqual([
        { visit: 'v2', category: 'books' },
        { visit: 'v3', category: 'games' },
      ]);
      expect(driver.values('left')).toEqual([
        { visit: 'v1', category: null },
        { visit: 'v2', category: 'books' },
        { visit: 'v3', category: 'games' },
      ]);
      expect(driver.outputs('inner').map((o) => o.key)).toEqual(['1', '1']);
    } finally {
      await driver.close();
    }
  });

  it('refuses two operators with one name, naming it', () => {
    const spec = { name: 'x', sources: { s: kafkaSource('s', { format: json<Click>() }) }, sinks: { out: kafkaSink('out') } };
    expect(() =>
      streamsJob(spec, (b) => {
        b.stream('s').distinct('same', (c) => c.id, 1_000).to('out');
        b.stream('s').distinct('same', (c) => c.page, 1_000).to('out');
      }),
    ).toThrow(/two operators are named 'same'/);
    expect(() =>
      streamsJob(spec, (b) => {
        b.stream('s').filter((c) => c.page === 'a').to('out');
        b.stream('s').filter((c) => c.page === 'b').to('out'); // the same stream, one pass-through
        b.stream('s', { eventTime: (c) => c.ts }).to('out');
      }),
    ).toThrow(/source 's' is already read as a stream with another eventTime/);
  });
});

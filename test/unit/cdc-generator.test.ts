import { describe, it, expect } from 'vitest';
import { generateCdcEvents, type CdcEvent, type CdcGeneratorOptions } from '../../loadtest/cdc/generator.ts';
import { TABLES, type TableName } from '../../loadtest/cdc/model.ts';
import { decodeDebezium, decodeDebeziumKey, type DebeziumChange } from '../../job/formats/debezium.ts';

function take(options: CdcGeneratorOptions, count: number): CdcEvent[] {
  const events: CdcEvent[] = [];
  for (const event of generateCdcEvents(options)) {
    events.push(event);
    if (events.length === count) break;
  }
  return events;
}

function decode(event: CdcEvent, index: number): { key: Record<string, unknown>; change: DebeziumChange | null } {
  const where = `${event.topic}[gen]@${index}`;
  const key = decodeDebeziumKey(event.key, where);
  if (key === null) throw new Error(`event ${index} has no key`);
  return { key, change: decodeDebezium(event.value, where) };
}

const pkOf = (table: string): string => TABLES[table as TableName].primaryKey;
const idOf = (row: Record<string, unknown> | null, column: string): number => {
  const id = row?.[column];
  if (typeof id !== 'number') throw new Error(`row has no numeric ${column}: ${JSON.stringify(row)}`);
  return id;
};

describe('generateCdcEvents', () => {
  it('gives byte-identical events for the same seed and different ones for another seed', () => {
    const asBytes = (events: CdcEvent[]): unknown[] =>
      events.map((e) => [e.topic, e.key.toString('hex'), e.value?.toString('hex') ?? null, e.timestampMs, e.table, e.op]);
    const first = asBytes(take({ seed: 42 }, 2000));
    expect(asBytes(take({ seed: 42 }, 2000))).toEqual(first);
    expect(asBytes(take({ seed: 43 }, 2000))).not.toEqual(first);
  });

  it('starts with a snapshot of every user and product, the last marked "last"', () => {
    const events = take({ seed: 1, initialUsers: 100, initialProducts: 50 }, 400);
    const snapshot = events.slice(0, 150).map((event, i) => ({ event, change: decode(event, i).change }));
    expect(snapshot.every(({ event }) => event.op === 'r')).toBe(true);
    expect(snapshot.filter(({ event }) => event.table === 'users')).toHaveLength(100);
    expect(snapshot.filter(({ event }) => event.table === 'products')).toHaveLength(50);
    expect(snapshot[0]?.change?.source.snapshot).toBe('first');
    expect(snapshot[149]?.change?.source.snapshot).toBe('last');
    expect(snapshot.slice(0, 149).map(({ change }) => change?.source.snapshot)).not.toContain('last');
    const streamed = events.slice(150).map((event, i) => decode(event, 150 + i).change);
    expect(streamed.every((change) => change === null || (change.op !== 'r' && change.source.snapshot === 'false'))).toBe(true);
  });

  it('follows every delete with a tombstone of the same key and topic', () => {
    const events = take({ seed: 5 }, 20_000);
    let deletes = 0;
    for (const [i, event] of events.entries()) {
      if (event.op === null) expect(events[i - 1]?.op).toBe('d');
      if (event.op !== 'd' || i + 1 === events.length) continue;
      deletes += 1;
      const next = events[i + 1];
      expect(next?.op).toBeNull();
      expect(next?.value).toBeNull();
      expect(next?.topic).toBe(event.topic);
      expect(next?.key.equals(event.key)).toBe(true);
    }
    expect(deletes).toBeGreaterThan(10);
  });

  it.each([true, false])('produces values that decode (schemas=%s), keyed by primary key on the table topic', (schemas) => {
    const events = take({ seed: 9, schemas }, 5000);
    for (const [i, event] of events.entries()) {
      const { key, change } = decode(event, i);
      expect(event.topic).toBe(`ecommerce.public.${event.table}`);
      if (change === null) continue;
      expect(change.op).toBe(event.op);
      expect(change.source.table).toBe(event.table);
      expect(key).toEqual({ [pkOf(event.table)]: idOf(change.after ?? change.before, pkOf(event.table)) });
    }
  });

  it('keeps ids, LSNs, transaction ids and timestamps moving forward', () => {
    const events = take({ seed: 3 }, 5000);
    let lsn = 0;
    let txId = 0;
    let timestampMs = 0;
    const maxId: Record<string, number> = {};
    for (const [i, event] of events.entries()) {
      expect(event.timestampMs).toBeGreaterThanOrEqual(timestampMs);
      timestampMs = event.timestampMs;
      const { change } = decode(event, i);
      if (change === null) continue;
      expect(change.source.lsn as number).toBeGreaterThanOrEqual(lsn);
      expect(change.source.txId as number).toBeGreaterThanOrEqual(txId);
      lsn = change.source.lsn as number;
      txId = change.source.txId as number;
      if (change.op !== 'c' && change.op !== 'r') continue;
      const id = idOf(change.after, pkOf(event.table));
      expect(id).toBeGreaterThan(maxId[event.table] ?? 0);
      maxId[event.table] = id;
    }
  });

  it('keeps referential integrity: items, orders and deletes only touch live rows', () => {
    const live: Record<string, Set<number>> = { users: new Set(), products: new Set(), orders: new Set(), order_items: new Set() };
    const ordersOfUser = new Map<number, number>();
    const itemsOfOrder = new Map<number, number>();
    const adjust = (counts: Map<number, number>, id: number, by: number): void => {
      counts.set(id, (counts.get(id) ?? 0) + by);
    };
    const parent = new Map<string, number>();
    let itemsChecked = 0;
    for (const [i, event] of take({ seed: 11 }, 30_000).entries()) {
      const { key, change } = decode(event, i);
      const table = live[event.table];
      const id = idOf(key, pkOf(event.table));
      if (change === null || table === undefined) continue;
      if (change.op === 'c' || change.op === 'r') {
        if (event.table === 'order_items') {
          const orderId = idOf(change.after, 'order_id');
          expect(live.orders?.has(orderId)).toBe(true);
          expect(live.products?.has(idOf(change.after, 'product_id'))).toBe(true);
          adjust(itemsOfOrder, orderId, 1);
          parent.set(`item/${id}`, orderId);
          itemsChecked += 1;
        }
        if (event.table === 'orders') {
          const userId = idOf(change.after, 'user_id');
          expect(live.users?.has(userId)).toBe(true);
          adjust(ordersOfUser, userId, 1);
          parent.set(`order/${id}`, userId);
        }
        table.add(id);
      } else {
        expect(table.has(id)).toBe(true);
      }
      if (change.op !== 'd') continue;
      if (event.table === 'users') expect(ordersOfUser.get(id) ?? 0).toBe(0);
      if (event.table === 'orders') {
        expect(itemsOfOrder.get(id) ?? 0).toBe(0);
        adjust(ordersOfUser, parent.get(`order/${id}`) ?? -1, -1);
      }
      if (event.table === 'order_items') adjust(itemsOfOrder, parent.get(`item/${id}`) ?? -1, -1);
      table.delete(id);
    }
    expect(itemsChecked).toBeGreaterThan(1000);
  });

  it('totals each new order from the items that follow it', () => {
    const events = take({ seed: 21, schemas: false }, 10_000);
    for (const [i, event] of events.entries()) {
      if (event.table !== 'orders' || event.op !== 'c') continue;
      const order = decode(event, i).change?.after;
      let cents = 0;
      for (let j = i + 1; events[j]?.table === 'order_items' && events[j]?.op === 'c'; j += 1) {
        const item = decode(events[j] as CdcEvent, j).change?.after;
        expect(item?.order_id).toBe(order?.order_id);
        cents += (item?.quantity as number) * Math.round((item?.unit_price as number) * 100);
      }
      expect(cents).toBeGreaterThan(0);
      expect(Math.round((order?.total_amount as number) * 100)).toBe(cents);
    }
  });

  it.each([false, true])('carries the previous row in before (replicaIdentityFull=%s)', (replicaIdentityFull) => {
    const latest = new Map<string, Record<string, unknown>>();
    const events = take({ seed: 8, replicaIdentityFull }, 10_000);
    let checked = 0;
    for (const [i, event] of events.entries()) {
      const { change } = decode(event, i);
      if (change === null) continue;
      const rowKey = `${event.topic}/${event.key.toString()}`;
      if (change.op === 'u' || change.op === 'd') {
        const previous = latest.get(rowKey);
        expect(previous).toBeDefined();
        const pk = pkOf(event.table);
        expect(change.before).toEqual(replicaIdentityFull ? previous : { [pk]: previous?.[pk] });
        checked += 1;
      }
      if (change.after === null) latest.delete(rowKey);
      else latest.set(rowKey, change.after);
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('puts topicPrefix into topics, source.name and the Connect schema names, as Debezium does', () => {
    type Schema = { name?: string; fields?: (Schema & { field: string })[] };
    const schemaOf = (bytes: Buffer): Schema => (JSON.parse(bytes.toString('utf8')) as { schema: Schema }).schema;
    const events = take({ seed: 4, topicPrefix: 'shop7' }, 3000);
    const tables = new Set<string>();
    for (const [i, event] of events.entries()) {
      const record = `shop7.public.${event.table}`;
      expect(event.topic.startsWith('shop7.public.')).toBe(true);
      expect(event.topic).toBe(record);
      expect(schemaOf(event.key).name).toBe(`${record}.Key`);
      const { change } = decode(event, i);
      if (change === null || event.value === null) continue;
      tables.add(event.table);
      expect(change.source.name).toBe('shop7');
      expect(change.source.db).toBe('ecommerce');
      const envelope = schemaOf(event.value);
      expect(envelope.name).toBe(`${record}.Envelope`);
      const rowSchemas = envelope.fields?.filter((f) => f.field === 'before' || f.field === 'after').map((f) => f.name);
      expect(rowSchemas).toEqual([`${record}.Value`, `${record}.Value`]);
    }
    expect([...tables].sort()).toEqual(['order_items', 'orders', 'products', 'users']);
  });

  it.each([true, false])('changes nothing but the prefix when topicPrefix is set (schemas=%s)', (schemas) => {
    const asText = (events: CdcEvent[]): string[] =>
      events.map((e) => JSON.stringify([e.topic, e.key.toString('utf8'), e.value?.toString('utf8') ?? null, e.timestampMs, e.table, e.op]));
    const plain = asText(take({ seed: 6, schemas }, 1000));
    const prefixed = asText(take({ seed: 6, schemas, topicPrefix: 'shop7' }, 1000));
    // Only topic, source.name and schema names change; source.db stays the database name.
    const rename = (text: string): string =>
      text.replaceAll('\\"name\\":\\"shop7\\"', '\\"name\\":\\"ecommerce\\"').replaceAll('shop7.public.', 'ecommerce.public.');
    expect(prefixed.some((text) => text.includes('ecommerce.public.'))).toBe(false);
    expect(prefixed.map(rename)).toEqual(plain);
    expect(asText(take({ seed: 6, schemas, topicPrefix: 'ecommerce' }, 1000))).toEqual(plain);
  });

  it('refuses invalid options before producing anything', () => {
    expect(() => generateCdcEvents({ seed: -1 })).toThrow(RangeError);
    expect(() => generateCdcEvents({ seed: 2 ** 32 })).toThrow(/seed/);
    expect(() => generateCdcEvents({ seed: 1, initialUsers: 1.5 })).toThrow(/initialUsers/);
    expect(() => generateCdcEvents({ seed: 1, eventIntervalMs: 0 })).toThrow(/eventIntervalMs/);
    for (const topicPrefix of ['', 'shop 7', 'shop/7', 'shóp', 'a"b', 'x'.repeat(231)]) {
      expect(() => generateCdcEvents({ seed: 1, topicPrefix })).toThrow(/topicPrefix/);
    }
    expect(() => generateCdcEvents({ seed: 1, topicPrefix: 'x'.repeat(230) })).not.toThrow();
  });
});

/**
 * The `ecommerce` job on the test driver, against the independent computation in
 * test/support/ecommerce-oracle.ts: generated change events with updates, deletes and
 * cancellations, interleaved across partitions out of event-time order, with invalid records and a
 * late order; then the same input with crashes between records.
 */
import { describe, expect, it } from 'vitest';
import { createEcommerceJob, DEFAULTS, type InventoryAlert, type LateRecord, type RevenueWindow, type UserSession } from '../../examples/ecommerce/job.ts';
import { JobTestDriver, partitionFor } from '../../job/testing/driver.ts';
import { generateCdcEvents, type CdcEvent } from '../../loadtest/cdc/generator.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';
import { expectedAlerts, expectedRevenue, expectedSessions, placedOrders, type RawEvent } from '../support/ecommerce-oracle.ts';

const PARTITIONS = 3;
// Thresholds high enough that the generated stock changes cross them often. The driver runs a
// round of 50 events (100 s of event time) task by task, so a repartition topic receives one
// task's round before the next one's; the reader's watermark lane per writing task keeps that
// from making records late, with the default 5 s out-of-orderness.
const options = { ...DEFAULTS, partitions: PARTITIONS, lowStock: 80, criticalStock: 30 };
const job = createEcommerceJob(options);
const SOURCES: Record<string, string> = { 'ecommerce.public.orders': 'orders', 'ecommerce.public.order_items': 'items', 'ecommerce.public.products': 'products' };

/** Generated events of the three tables the job reads, 2 s of event time apart. */
function generated(count: number, seed: number): CdcEvent[] {
  const events: CdcEvent[] = [];
  for (const event of generateCdcEvents({ seed, eventIntervalMs: 2_000, initialProducts: 30, initialUsers: 40 })) {
    if (SOURCES[event.topic] !== undefined) events.push(event);
    if (events.length === count) return events;
  }
  throw new Error('unreachable');
}

/**
 * The events in another order: each (topic, partition) keeps its own order, as Kafka does, but
 * partitions interleave as if each lagged by up to 60 s at random, so event time arrives out of
 * order across them (within the job's allowed out-of-orderness).
 */
function interleaved(events: readonly CdcEvent[], seed: number): CdcEvent[] {
  const random = new SeededRandom(seed);
  const queues = new Map<string, { event: CdcEvent; arrives: number }[]>();
  for (const event of events) {
    const id = `${event.topic}/${partitionFor(event.topic, event.key, PARTITIONS)}`;
    const queue = queues.get(id) ?? [];
    queues.set(id, queue);
    // Arrival never before the previous record of the same partition.
    queue.push({ event, arrives: Math.max(queue[queue.length - 1]?.arrives ?? 0, event.timestampMs + random.int(0, 60_000)) });
  }
  const out: CdcEvent[] = [];
  for (;;) {
    let next: { event: CdcEvent; arrives: number }[] | undefined;
    for (const queue of queues.values()) if (queue.length > 0 && (next === undefined || (queue[0]?.arrives as number) < (next[0]?.arrives as number))) next = queue;
    if (next === undefined) return out;
    out.push((next.shift() as { event: CdcEvent }).event);
  }
}

/** Sends `events` in rounds of `round`, running the job after each. */
async function feed(driver: JobTestDriver, events: readonly CdcEvent[], round = 50): Promise<void> {
  for (let i = 0; i < events.length; i += round) {
    for (const event of events.slice(i, i + round)) driver.send(SOURCES[event.topic] as string, { key: event.key, value: event.value, timestamp: event.timestampMs });
    await driver.run();
  }
}

function checkRevenue(driver: JobTestDriver, events: readonly RawEvent[]): void {
  const expected = expectedRevenue(events, options);
  expect(expected.size).toBeGreaterThan(5);
  expect(driver.table<RevenueWindow>('revenue')).toEqual(expected);
}

function checkAlerts(driver: JobTestDriver, events: readonly RawEvent[]): void {
  const byProduct = new Map<number, InventoryAlert[]>();
  for (const alert of driver.values<InventoryAlert>('alerts')) byProduct.set(alert.product_id, [...(byProduct.get(alert.product_id) ?? []), alert]);
  const expected = expectedAlerts(events, options);
  expect([...expected.values()].flat().length).toBeGreaterThan(3);
  expect(byProduct).toEqual(expected);
}

describe('ecommerce job', () => {
  const events = generated(4_000, 41);
  const shuffled = interleaved(events, 42);

  it('equals the independent computation over updates, deletes, cancellations and out-of-order partitions', async () => {
    const statuses = new Set(events.filter((e) => e.table === 'orders' && e.value !== null).map((e) => (JSON.parse(e.value!.toString()) as { payload: { after: { status: string } | null } }).payload.after?.status));
    expect(statuses).toContain('cancelled');
    expect(events.some((e) => e.op === 'd')).toBe(true);
    const driver = await JobTestDriver.start(job, { partitions: PARTITIONS });
    try {
      await feed(driver, shuffled);
      checkRevenue(driver, shuffled);
      checkAlerts(driver, shuffled);
      const sessions = driver.values<UserSession>('activity');
      expect(sessions.length).toBeGreaterThan(3);
      const expected = expectedSessions(placedOrders(shuffled), options.sessionGapMs);
      for (const session of sessions) {
        const match = expected.get(session.user_id)?.find((s) => new Date(s.start).toISOString() === session.session_start);
        expect(match, `session ${JSON.stringify(session)}`).toBeDefined();
        expect(session).toEqual({ user_id: session.user_id, session_start: session.session_start, session_end: new Date(match!.end).toISOString(), orders_placed: match!.orders, total_spent: match!.cents / 100, last_activity: new Date(match!.end - options.sessionGapMs).toISOString() });
      }
      expect(new Set(sessions.map((s) => `${s.user_id}@${s.session_start}`)).size).toBe(sessions.length);
    } finally {
      await driver.close();
    }
  }, 60_000);

  it('dead-letters invalid records with their bytes and sends an order placed after its session closed to the late output', async () => {
    const driver = await JobTestDriver.start(job, { partitions: PARTITIONS });
    try {
      await feed(driver, events.slice(0, 3_000), 500);
      const garbage = Buffer.from([0x7b, 0xff, 0x00]);
      driver.send('orders', { key: '{"order_id":999999}', value: garbage });
      driver.send('items', { key: '{"item_id":999999}', value: { op: 'c', after: null, source: {} } });
      // An order placed two hours (event time) before the newest: its session closed long ago.
      const newest = Math.max(...events.slice(0, 3_000).filter((e) => e.table === 'orders').map((e) => e.timestampMs));
      const lateAt = newest - 2 * 3_600_000;
      const late = { op: 'c', before: null, after: { order_id: 999_998, user_id: 1, total_amount: 12.5, status: 'pending', created_at: lateAt * 1000, updated_at: null }, source: { connector: 'postgresql', name: 'ecommerce', ts_ms: newest, db: 'ecommerce', table: 'orders' }, ts_ms: newest };
      driver.send('orders', { key: '{"order_id":999998}', value: late, timestamp: newest });
      await driver.run();
      const letters = driver.deadLetters();
      expect(letters.map((d) => [d.source.topic, d.field])).toEqual([
        ['ecommerce.public.orders', ''],
        ['ecommerce.public.order_items', 'source.connector'],
      ]);
      expect(Buffer.from(letters[0]!.source.value!)).toEqual(garbage);
      expect(letters[0]!.reason).toMatch(/JSON/);
      const lateRecords = driver.values<LateRecord>('late');
      expect(lateRecords).toHaveLength(1);
      expect(lateRecords[0]).toMatchObject({ output: 'user_activity', key: '1', event_time: new Date(lateAt).toISOString() });
      expect(lateRecords[0]!.reason).toMatch(/closed since the watermark reached/);
      // Revenue has no lateness limit: the late order counts in its window.
      const window = new Date(lateAt - (lateAt % options.windowMs)).toISOString();
      expect(driver.table<RevenueWindow>('revenue').get(window)?.order_count).toBeGreaterThanOrEqual(1);
    } finally {
      await driver.close();
    }
  }, 60_000);

  it('deletes a revenue window after its retention and sends later changes of its orders to the late output', async () => {
    const short = createEcommerceJob({ ...options, windowRetentionMs: 3_600_000 });
    const driver = await JobTestDriver.start(short, { partitions: PARTITIONS });
    try {
      const t0 = Date.UTC(2025, 0, 1);
      const order = (id: number, createdMs: number, status: string, changedMs: number, op = 'c') => ({
        key: `{"order_id":${id}}`,
        timestamp: changedMs,
        value: { op, before: null, after: { order_id: id, user_id: id, total_amount: 10, status, created_at: createdMs * 1000, updated_at: null }, source: { connector: 'postgresql', name: 'ecommerce', ts_ms: changedMs, db: 'ecommerce', table: 'orders' }, ts_ms: changedMs },
      });
      // One order per task's worth of keys at t0, then orders two hours later on every task, so every upstream lane moves.
      driver.send('orders', [1, 2, 3, 4, 5, 6].map((id) => order(id, t0, 'pending', t0)));
      await driver.run();
      driver.send('orders', [11, 12, 13, 14, 15, 16].map((id) => order(id, t0 + 7_200_000, 'pending', t0 + 7_200_000)));
      await driver.run();
      const first = new Date(t0).toISOString();
      expect(driver.table<RevenueWindow>('revenue').get(first)?.order_count).toBe(6);
      driver.send('orders', order(1, t0, 'cancelled', t0 + 7_300_000, 'u'));
      await driver.run();
      expect(driver.table<RevenueWindow>('revenue').get(first)?.order_count).toBe(6); // kept as it was when it expired
      const late = driver.values<LateRecord>('late');
      expect(late.map((l) => [l.output, l.key])).toEqual([['revenue_5m', first]]);
      expect(late[0]?.reason).toMatch(/^1 changed after group .* closed at /);
    } finally {
      await driver.close();
    }
  }, 60_000);

  it('gives the same results when every task crashes between records and restores from its last checkpoint', async () => {
    const driver = await JobTestDriver.start(job, { partitions: PARTITIONS });
    const random = new SeededRandom(43);
    try {
      const input = shuffled.slice(0, 1_500);
      let crashes = 0;
      for (let i = 0; i < input.length; i += 25) {
        for (const event of input.slice(i, i + 25)) driver.send(SOURCES[event.topic] as string, { key: event.key, value: event.value, timestamp: event.timestampMs });
        // Some records, then maybe a checkpoint, then maybe a crash: what followed the checkpoint is redone.
        for (let n = random.int(0, 40); n > 0 && (await driver.step()); n--);
        if (random.int(0, 2) === 0) await driver.checkpoint();
        if (random.int(0, 2) === 0) {
          await driver.crash();
          crashes++;
        }
        await driver.run();
      }
      expect(crashes).toBeGreaterThan(5);
      checkRevenue(driver, input);
      checkAlerts(driver, input);
    } finally {
      await driver.close();
    }
  }, 60_000);
});

import { describe, expect, it } from 'vitest';
import { generateCdcEvents } from '../../loadtest/cdc/generator.ts';
import ecommerce, { type InventoryAlert, type RevenueResult } from '../../examples/ecommerce/job.ts';
import eosCheck, { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import type { SourceRecord } from '../../worker/thread-protocol.ts';
import { bufferedOutputs, openRuntime, record, tempDir, values } from './task-harness.ts';

const T0 = Date.UTC(2025, 0, 1);

describe('eos-check job', () => {
  const input = (offset: number, value: unknown) => record(EOS_TOPICS.input, offset, value, { keyText: 'k' });

  it('counts records per key and emits {key, seq, count}', async () => {
    const runtime = await openRuntime(eosCheck, await tempDir());
    const result = await runtime.process(
      [input(0, { key: 'a', seq: 1 }), input(1, { key: 'b', seq: 1 }), input(2, { key: 'a', seq: 2 })],
      0,
    );
    expect(values(bufferedOutputs(result.buffered))).toEqual([
      { key: 'a', seq: 1, count: 1 },
      { key: 'b', seq: 1, count: 1 },
      { key: 'a', seq: 2, count: 2 },
    ]);
    expect(bufferedOutputs(result.buffered).map((o) => [o.sink, o.key])).toEqual([['output', 'a'], ['output', 'b'], ['output', 'a']]);
    expect(result.outputs).toEqual([]); // exactly-once: held in the buffer, none published at once
    expect(result.buffered.map((item) => item.epoch)).toEqual([1, 1, 1]);
    await runtime.close();
  });

  it('dead-letters a value without a string key or a numeric seq, naming the field', async () => {
    const runtime = await openRuntime(eosCheck, await tempDir());
    const result = await runtime.process([input(0, { key: 7, seq: 1 }), input(1, { key: 'a', seq: '1' }), input(2, [1])], 0);
    expect(result.deadLetters.map((d) => [d.field, d.reason])).toEqual([
      ['key', 'expected a string, got 7'],
      ['seq', 'expected a number, got "1"'],
      ['', 'expected a JSON object'],
    ]);
    await runtime.close();
  });
});

describe('ecommerce-demo job', () => {
  const source = { version: '3.1.0.Final', connector: 'postgresql', name: 'ecommerce', db: 'ecommerce', schema: 'public' };
  const change = (table: string, op: string, after: Record<string, unknown> | null, tsMs: number) => ({
    op,
    before: null,
    after,
    source: { ...source, table, ts_ms: tsMs, snapshot: 'false' },
    ts_ms: tsMs + 5,
  });
  const order = (offset: number, id: number, amount: number, atMs: number) =>
    record('ecommerce.public.orders', offset, change('orders', 'c', { order_id: id, user_id: 1, total_amount: amount, status: 'pending', created_at: atMs * 1000 }, atMs), {
      timestamp: atMs + 5,
    });
  const product = (offset: number, stock: number, atMs: number) =>
    record('ecommerce.public.products', offset, change('products', 'u', { product_id: 42, name: 'Lamp', price: 19.99, stock_quantity: stock }, atMs));

  it('emits a 1-minute revenue window when the watermark passes its end', async () => {
    const runtime = await openRuntime(ecommerce, await tempDir(), 0);
    let result = await runtime.process([order(0, 1, 10.1, T0 + 1_000), order(1, 2, 20.2, T0 + 30_000), order(2, 3, 5, T0 + 61_000)], 0);
    expect(bufferedOutputs(result.buffered)).toEqual([]);
    result = await runtime.process([order(3, 4, 1, T0 + 62_000)], 0); // watermark T0 + 60 s: the first window closes
    const results = values(bufferedOutputs(result.buffered)) as RevenueResult[];
    expect(results).toEqual([{ windowStart: T0, windowEnd: T0 + 60_000, orders: 2, revenue: 30.3, task: 0 }]);
    expect(bufferedOutputs(result.buffered)[0]?.sink).toBe('revenue');
    expect(bufferedOutputs(result.buffered)[0]?.key).toBe('task-0');
    await runtime.close();
  });

  it('alerts when a product drops below 10 and when it runs out, once each', async () => {
    const runtime = await openRuntime(ecommerce, await tempDir(), 0);
    const result = await runtime.process([product(0, 12, T0), product(1, 9, T0 + 1), product(2, 4, T0 + 2), product(3, 0, T0 + 3), product(4, 0, T0 + 4)], 0);
    const alerts = values(bufferedOutputs(result.buffered)) as InventoryAlert[];
    expect(alerts.map((a) => [a.alert_level, a.current_stock])).toEqual([
      ['low', 9],
      ['out_of_stock', 0],
    ]);
    expect(alerts[0]).toEqual({ product_id: 42, product_name: 'Lamp', current_stock: 9, threshold: 10, alert_level: 'low', changed_at: T0 + 1 });
    expect(bufferedOutputs(result.buffered).map((o) => [o.sink, o.key])).toEqual([['alerts', '42'], ['alerts', '42']]);
    await runtime.close();
  });

  it('runs over the CDC generator without dead letters and closes windows as event time moves', async () => {
    const runtime = await openRuntime(ecommerce, await tempDir(), 0);
    const topics = new Set(Object.values(ecommerce.sources).map((s) => s.topic));
    const offsets = new Map<string, number>();
    const records: SourceRecord[] = [];
    for (const event of generateCdcEvents({ seed: 7, eventIntervalMs: 50 })) {
      if (records.length === 2_000) break;
      if (!topics.has(event.topic)) continue;
      const offset = offsets.get(event.topic) ?? 0;
      offsets.set(event.topic, offset + 1);
      records.push({ topic: event.topic, partition: 0, offset: String(offset), timestamp: event.timestampMs, key: event.key, value: event.value });
    }
    const result = await runtime.process(records, 0);
    expect(result.deadLetters).toEqual([]);
    const windows = (values(bufferedOutputs(result.buffered).filter((o) => o.sink === 'revenue')) as RevenueResult[]).map((w) => w.windowStart);
    expect(windows.length).toBeGreaterThan(1);
    expect(windows).toEqual([...windows].sort((a, b) => a - b));
    await runtime.close();
  });
});

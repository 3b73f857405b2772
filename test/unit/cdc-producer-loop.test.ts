import { describe, it, expect } from 'vitest';
import type { ProducerBatch } from 'kafkajs';
import { produceCdcEvents } from '../../loadtest/cdc/producer.ts';
import type { CdcRunStats } from '../../loadtest/cdc/run-stats.ts';
import type { PacerClock } from '../../loadtest/cdc/token-bucket.ts';

/** Time moves only when the loop sleeps or a send "takes" time. */
class ManualClock implements PacerClock {
  now = 1_000;
  nowMs(): number {
    return this.now;
  }
  sleepMs(ms: number): Promise<void> {
    this.now += ms;
    return Promise.resolve();
  }
}

function fakeProducer(clock: ManualClock, sendMs = 2) {
  const batches: ProducerBatch[] = [];
  return {
    batches,
    sendBatch: (batch: ProducerBatch) => {
      batches.push(batch);
      clock.now += sendMs;
      return Promise.resolve([]);
    },
  };
}

const base = { seed: 1, schemas: true, startTimeMs: 1_735_689_600_000 };

describe('produceCdcEvents', () => {
  it('stops at maxEvents, acks all, and counts by table and op', async () => {
    const clock = new ManualClock();
    const producer = fakeProducer(clock);
    const stats = await produceCdcEvents(producer, { ...base, rate: 1000, maxEvents: 5000, clock });
    expect(stats.events).toBe(5000);
    const sent = producer.batches.flatMap((b) => b.topicMessages ?? []).reduce((n, t) => n + t.messages.length, 0);
    expect(sent).toBe(5000);
    expect(producer.batches.every((b) => b.acks === -1)).toBe(true);
    expect(Object.values(stats.byTable).reduce((a, b) => a + b, 0)).toBe(5000);
    expect(stats.byOp.r).toBe(150);
    expect(stats.byOp.tombstone).toBe(stats.byOp.d);
    expect(stats.bytes).toBeGreaterThan(5000 * 100);
  });

  it('paces to the rate for the duration and reports progress about once a second', async () => {
    const clock = new ManualClock();
    const progress: CdcRunStats[] = [];
    const stats = await produceCdcEvents(fakeProducer(clock), {
      ...base,
      rate: 2000,
      durationSec: 10,
      clock,
      onProgress: (s) => progress.push(s),
    });
    expect(stats.elapsedMs).toBeGreaterThanOrEqual(10_000);
    expect(stats.events).toBeLessThanOrEqual(20_000);
    expect(stats.events).toBeGreaterThan(19_500);
    expect(progress.length).toBeGreaterThanOrEqual(9);
    expect(progress.length).toBeLessThanOrEqual(10);
  });

  it('keeps each topic in generation order and stamps record timestamps', async () => {
    const clock = new ManualClock();
    const producer = fakeProducer(clock);
    await produceCdcEvents(producer, { ...base, rate: 500, maxEvents: 1000, clock });
    for (const batch of producer.batches) {
      for (const { messages } of batch.topicMessages ?? []) {
        const stamps = messages.map((m) => Number(m.timestamp));
        expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
        expect(stamps[0]).toBeGreaterThanOrEqual(base.startTimeMs);
      }
    }
  });

  it('sends to the topics of topicPrefix', async () => {
    const clock = new ManualClock();
    const producer = fakeProducer(clock);
    await produceCdcEvents(producer, { ...base, rate: 1000, maxEvents: 2000, clock, topicPrefix: 'shop7' });
    const topics = new Set(producer.batches.flatMap((b) => (b.topicMessages ?? []).map((t) => t.topic)));
    expect([...topics].sort()).toEqual(['shop7.public.order_items', 'shop7.public.orders', 'shop7.public.products', 'shop7.public.users']);
  });

  it('stops when aborted and lets send errors propagate', async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    controller.abort();
    expect((await produceCdcEvents(fakeProducer(clock), { ...base, rate: 100, clock, signal: controller.signal })).events).toBe(0);
    const failing = { sendBatch: () => Promise.reject(new Error('broker gone')) };
    await expect(produceCdcEvents(failing, { ...base, rate: 100, maxEvents: 10, clock })).rejects.toThrow('broker gone');
  });
});

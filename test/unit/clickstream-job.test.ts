/** The `clickstream` job (seed 002) on the test driver, against test/support/clickstream-oracle.ts, with crashes. */
import { describe, expect, it } from 'vitest';
import { clickRecords } from '../../examples/clickstream/data.ts';
import { createClickstreamJob, DEFAULTS, type Conversion, type LateRecord, type UserVersion } from '../../examples/clickstream/job.ts';
import type { ClickEvent } from '../../examples/clickstream/data.ts';
import { JobTestDriver } from '../../job/testing/driver.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';
import { expectedClickstream } from '../support/clickstream-oracle.ts';

const job = createClickstreamJob({ partitions: 3 });
const sourceOf = (topic: string) => (topic.endsWith('.events') ? 'events' : 'users');

describe('clickstream job', () => {
  const records = clickRecords({ seed: 3, count: 3_000 });
  const expected = expectedClickstream(records, DEFAULTS.windowMs);

  it('de-duplicates events, keeps users as an SCD type 2 dimension and emits conversion per closed window', async () => {
    expect(expected.duplicates).toBeGreaterThan(20);
    expect(expected.invalid).toBeGreaterThan(20);
    const driver = await JobTestDriver.start(job, { partitions: 3 });
    const random = new SeededRandom(4);
    try {
      for (let i = 0; i < records.length; i += 40) {
        for (const r of records.slice(i, i + 40)) driver.send(sourceOf(r.topic), { key: r.key, value: r.value, timestamp: r.timestampMs });
        for (let n = random.int(0, 30); n > 0 && (await driver.step()); n--);
        if (random.int(0, 3) === 0) await driver.checkpoint();
        if (random.int(0, 4) === 0) await driver.crash();
        await driver.run();
      }
      expect(driver.table('clean')).toEqual(expected.clean);
      expect(driver.outputs('clean')).toHaveLength(expected.clean.size); // each event once, none twice
      expect(driver.table<UserVersion>('dim')).toEqual(expected.dim);
      const conversion = driver.outputs('conversion');
      expect(new Set(conversion.map((c) => c.key)).size).toBe(conversion.length); // each window once, on close
      const closedByNow = [...expected.conversion.values()].filter((c) => Date.parse(c.window_end) + DEFAULTS.allowedLatenessMs + DEFAULTS.outOfOrdernessMs + 60_000 <= expected.maxTs);
      expect(closedByNow.length).toBeGreaterThan(5);
      const emitted = driver.table<Conversion>('conversion');
      for (const window of closedByNow) expect(emitted.get(window.window_start)).toEqual(window);
      for (const [key, window] of emitted) expect(window).toEqual(expected.conversion.get(key));
      expect(driver.values<LateRecord>('late')).toEqual([]);
      expect(driver.deadLetters()).toHaveLength(expected.invalid);
      expect(driver.counters().get('duplicates')).toBeGreaterThanOrEqual(expected.duplicates);
    } finally {
      await driver.close();
    }
  }, 60_000);

  it('sends an event for a window already closed to the late output, with the reason', async () => {
    const driver = await JobTestDriver.start(job, { partitions: 3 });
    try {
      const t0 = Date.UTC(2025, 0, 1);
      const event = (id: string, ts: number) => ({ key: '7', value: { event_id: id, user_id: 7, session_id: 's7', event_type: 'page_view', product_id: 1, price: null, ts } });
      driver.send('events', event('a', t0));
      await driver.run();
      // Only user 7's task writes to the conversion windows: the reader waits for the other
      // upstream tasks until they have been silent for idleSourceMs (15 s of processing time).
      await driver.advanceTime(20_000);
      driver.send('events', event('b', t0 + 3_600_000));
      await driver.run();
      driver.send('events', event('c', t0 + 1_000));
      await driver.run();
      const late = driver.values<LateRecord>('late');
      expect(late.map((l) => (l.record as ClickEvent).event_id)).toEqual(['c']);
      expect(late[0]?.reason).toMatch(/closed since the watermark reached/);
      expect(driver.values<Conversion>('conversion')).toEqual([{ window_start: new Date(t0).toISOString(), window_end: new Date(t0 + 300_000).toISOString(), sessions: 1, converted: 0, conversion_rate: 0 }]);
    } finally {
      await driver.close();
    }
  });
});

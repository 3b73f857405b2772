/** The `engagement` job (seed 001) on the test driver, against test/support/engagement-oracle.ts, with crashes. */
import { describe, expect, it } from 'vitest';
import { engagementEvents } from '../../examples/engagement/data.ts';
import { createEngagementJob, DEFAULTS, type DeviceStats, type Enriched, type WindowStats } from '../../examples/engagement/job.ts';
import { JobTestDriver } from '../../job/testing/driver.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';
import { expectedEngagement } from '../support/engagement-oracle.ts';

const job = createEngagementJob({ partitions: 3 });
const source = { content: 'content', engagement_events: 'events' } as const;

describe('engagement job', () => {
  const events = engagementEvents({ seed: 7, count: 2_500 });
  const expected = expectedEngagement(events, DEFAULTS.windowMs);

  it('joins events to content, aggregates per device and 10-minute window, and dead-letters invalid events with every reason', async () => {
    expect(expected.invalid).toBeGreaterThan(20);
    const driver = await JobTestDriver.start(job, { partitions: 3 });
    const random = new SeededRandom(8);
    try {
      for (let i = 0; i < events.length; i += 40) {
        for (const e of events.slice(i, i + 40)) driver.send(source[e.table], { key: e.key, value: e.value, timestamp: e.timestampMs });
        for (let n = random.int(0, 30); n > 0 && (await driver.step()); n--);
        if (random.int(0, 3) === 0) await driver.checkpoint();
        if (random.int(0, 4) === 0) await driver.crash();
        await driver.run();
      }
      expect(driver.table<Enriched>('enriched')).toEqual(expected.enriched);
      expect(driver.table<DeviceStats>('devices')).toEqual(expected.devices);
      expect(driver.table<WindowStats>('windows')).toEqual(expected.windows);
      expect(expected.windows.size).toBeGreaterThan(3);
      const letters = driver.deadLetters();
      expect(letters).toHaveLength(expected.invalid);
      expect(letters.every((d) => d.source.topic === 'engagement.public.engagement_events' && d.field.startsWith('after.'))).toBe(true);
      expect(new Set(letters.map((d) => d.field))).toEqual(new Set(['after.event_type', 'after.duration_ms', 'after.device']));
      expect(driver.counters().get('invalid.events')).toBeGreaterThanOrEqual(expected.invalid);
    } finally {
      await driver.close();
    }
  }, 60_000);
});

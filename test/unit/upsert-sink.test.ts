import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import { JobTestDriver } from '../../job/testing/driver.ts';

type Add = { key: string; n: number };
const job = defineJob({
  name: 'sums',
  sources: { adds: kafkaSource('adds', { format: json<Add>() }) },
  sinks: { sums: kafkaSink('sums', { upsert: true }), log: kafkaSink('log') },
  actors: {
    sum: keyedActor({
      from: 'adds',
      key: (a: Add) => a.key,
      initial: () => ({ sum: 0 }),
      onRecord(a, state, ctx) {
        state.sum += a.n;
        ctx.emit('sums', ctx.key, state.sum === 0 ? null : { sum: state.sum });
        ctx.emit('log', ctx.key, { sum: state.sum });
      },
    }),
  },
});

describe('upsert sinks', () => {
  it('keep the last value per key within a checkpoint, tombstones included; other sinks keep every output', async () => {
    const driver = await JobTestDriver.start(job, { partitions: 1 });
    try {
      driver.send('adds', [1, 2, 3].map((n) => ({ key: 'a', value: { key: 'a', n } })));
      driver.send('adds', [{ key: 'b', value: { key: 'b', n: 5 } }, { key: 'b', value: { key: 'b', n: -5 } }]);
      await driver.run();
      expect(driver.outputs('sums').map((o) => [o.key, o.value])).toEqual([
        ['a', '{"sum":6}'],
        ['b', null],
      ]);
      expect(driver.outputs('log')).toHaveLength(5);
      driver.send('adds', { key: 'a', value: { key: 'a', n: 1 } });
      await driver.run();
      expect(driver.table('sums')).toEqual(new Map([['a', { sum: 7 }]]));
    } finally {
      await driver.close();
    }
  });

  it('must be exactly-once', () => {
    expect(() => defineJob({ ...job, sinks: { sums: kafkaSink('sums', { upsert: true, delivery: 'at-least-once' }) } })).toThrow(/sinks.sums.upsert: upsert sinks keep the last value per key and checkpoint, so they must be exactly-once/);
  });
});

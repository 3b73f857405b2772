/**
 * The runtime pieces a table's truncate is built from, on the test driver (the real TaskRuntime):
 * a broadcast topic reaches every task; `EVERY_KEY` hands a record to every key an actor has in
 * the task, stored or in memory; task state is kept, restored and rolled back with the keys'
 * states; keys starting with NUL are refused; a broadcast topic holds no watermark back.
 */
import { describe, expect, it } from 'vitest';
import { broadcast, defineJob, EVERY_KEY, json, kafkaSink, kafkaSource, keyedActor, type Tagged } from '../../job/api.ts';
import { JobTestDriver } from '../../job/testing/driver.ts';

type Cmd = { key: string; ts: number; reset?: boolean; fail?: boolean };
type In = Tagged<{ cmds: Cmd; resets: { by: string } }>;

const job = defineJob({
  name: 'counters',
  sources: { cmds: kafkaSource('counters.cmds', { format: json<Cmd>(), partitions: 3 }) },
  sinks: { out: kafkaSink('counters.out', { upsert: true }), fired: kafkaSink('counters.fired') },
  repartitions: { resets: broadcast<{ by: string }>() },
  actors: {
    counter: keyedActor({
      from: ['cmds', 'resets'],
      key: (r: In) => (r.source === 'resets' ? EVERY_KEY : r.value.key),
      eventTime: (r: In, meta) => (r.source === 'cmds' ? r.value.ts : meta.timestamp),
      initial: () => ({ n: 0 }),
      taskState: () => ({ counted: 0 }),
      onRecord(r, state, ctx) {
        const task = ctx.taskState as { counted: number };
        if (r.source === 'resets') {
          ctx.emit('out', ctx.key, { n: 0, resetBy: r.value.by });
          return { n: 0 };
        }
        if (r.value.reset === true) {
          ctx.emit('resets', null, { by: r.value.key });
          return;
        }
        task.counted += 1; // mutated in place: rolled back if the handler throws below
        if (r.value.fail === true) throw new Error('refused');
        ctx.timers.atEventTime(r.value.ts + 1_000);
        ctx.emit('out', ctx.key, { n: state.n + 1, counted: task.counted });
        return { n: state.n + 1 };
      },
      onTimer: (timer, _state, ctx) => ctx.emit('fired', ctx.key, { at: timer.timestampMs }),
    }),
  },
});

describe('broadcast topics, EVERY_KEY and task state', () => {
  it('resets every key of every task, including keys only in the store after a restore, and keeps task state per task', async () => {
    const driver = await JobTestDriver.start(job, { partitions: 3 });
    try {
      const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
      driver.send('cmds', keys.map((key, i) => ({ key, value: { key, ts: 1_000 + i } })));
      driver.send('cmds', { key: 'a', value: { key: 'a', ts: 2_000 } });
      await driver.run();
      expect(driver.table<{ n: number }>('out').get('a')?.n).toBe(2);
      await driver.checkpoint();
      await driver.crash(); // the keys are now only in the stores
      driver.send('cmds', { key: 'b', value: { key: 'b', ts: 3_000, fail: true } });
      driver.send('cmds', { key: 'b', value: { key: 'b', ts: 3_001 } }); // counted once more in b's task: the failed call's mutation rolled back
      await driver.run();
      const task = (key: string) => driver.outputs('out').filter((o) => o.key === key).at(-1)?.task;
      const countedInTask = (t: number) => keys.filter((k) => task(k) === t).length + (task('a') === t ? 1 : 0);
      const b = driver.table<{ n: number; counted: number }>('out').get('b');
      expect(b).toEqual({ n: 2, counted: countedInTask(task('b') as number) + 1 });
      expect(driver.deadLetters().map((d) => d.reason)).toEqual([expect.stringContaining('refused')]);

      driver.send('cmds', { key: 'c', value: { key: 'c', ts: 4_000, reset: true } });
      await driver.run();
      expect(driver.table('out')).toEqual(new Map(keys.map((key) => [key, { n: 0, resetBy: 'c' }])));
      expect(new Set(driver.outputs('resets').map((o) => o.task)).size).toBe(1); // written by one task...
      expect(driver.outputs('resets')).toHaveLength(3); // ...to each of the 3 partitions
    } finally {
      await driver.close();
    }
  });

  it('fires event-time timers though the broadcast topic never had a record (it holds no watermark back)', async () => {
    const driver = await JobTestDriver.start(job, { partitions: 1 });
    try {
      driver.send('cmds', [
        { key: 'x', value: { key: 'x', ts: 1_000 } },
        { key: 'x', value: { key: 'x', ts: 5_000 } },
      ]);
      await driver.run();
      expect(driver.values('fired')).toEqual([{ at: 2_000 }]);
    } finally {
      await driver.close();
    }
  });

  it('refuses a key starting with NUL, naming why', async () => {
    const driver = await JobTestDriver.start(job, { partitions: 1 });
    try {
      driver.send('cmds', { key: 'x', value: { key: '\u0000x', ts: 1_000 } });
      await driver.run();
      expect(driver.deadLetters()[0]?.reason).toMatch(/keys starting with NUL are reserved/);
    } finally {
      await driver.close();
    }
  });
});

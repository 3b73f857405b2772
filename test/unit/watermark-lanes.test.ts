/**
 * Watermarks across repartition topics: a reader keeps a lane per upstream task, waits for every
 * expected lane until it reports or goes idle, and takes watermark markers as progress without
 * handing them to any actor.
 */
import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor, repartition } from '../../job/api.ts';
import { ORIGIN_HEADER, WATERMARK_HEADER } from '../../worker/runtime/call-context.ts';
import { TaskRuntime } from '../../worker/runtime/task-runtime.ts';
import { createTaskStore } from '../../state/task-store-open.ts';
import { join } from 'node:path';
import { record, tempDir, values } from './task-harness.ts';

type Ev = { key: string; at: number };
const job = defineJob({
  name: 'lanes',
  sources: { input: kafkaSource('input', { format: json<Ev>() }) },
  repartitions: { byKey: repartition<Ev>('key') },
  sinks: { fired: kafkaSink('fired', { delivery: 'at-least-once' }) },
  watermark: { outOfOrdernessMs: 0, idleSourceMs: 1_000 },
  actors: {
    reader: keyedActor({
      from: 'byKey',
      key: (e: Ev) => e.key,
      initial: () => ({ seen: 0 }),
      onRecord(e, state, ctx) {
        state.seen += 1;
        ctx.timers.atEventTime(100);
      },
      onTimer(_t, state, ctx) {
        ctx.emit('fired', ctx.key, { seen: state.seen, watermark: ctx.watermark });
      },
    }),
  },
});

const TOPIC = 'eddy.lanes.byKey';
const fromTask = (offset: number, task: number, value: Ev | null, headers: Record<string, string> = {}) =>
  record(TOPIC, offset, value, { timestamp: value?.at ?? 0, headers: { [ORIGIN_HEADER]: String(task), ...headers } });
const markerFrom = (offset: number, task: number, watermarkMs: number) => fromTask(offset, task, null, { [WATERMARK_HEADER]: String(watermarkMs) });

async function open(taskCount: number): Promise<TaskRuntime> {
  return TaskRuntime.open(job, 0, await createTaskStore(join(await tempDir(), 'task-0')), { taskCount });
}

describe('watermark lanes of a repartition reader', () => {
  it('waits for every upstream task before the watermark moves', async () => {
    const runtime = await open(2);
    let result = await runtime.process([fromTask(0, 0, { key: 'k', at: 500 })], 0);
    expect(result.outputs).toEqual([]); // task 1 has not reported: its lane holds the watermark
    result = await runtime.process([markerFrom(1, 1, 400)], 10);
    expect(values(result.outputs)).toEqual([{ seen: 1, watermark: 400 }]);
    await runtime.close();
  });

  it('counts a silent upstream task out after idleSourceMs', async () => {
    const runtime = await open(2);
    await runtime.process([fromTask(0, 0, { key: 'k', at: 500 })], 0);
    expect((await runtime.tick(900)).outputs).toEqual([]);
    const result = await runtime.process([fromTask(1, 0, { key: 'k', at: 600 })], 1_500);
    expect(values(result.outputs)).toEqual([{ seen: 2, watermark: 600 }]);
    await runtime.close();
  });

  it('hands markers to no actor, and never lets a lane go back', async () => {
    const runtime = await open(1);
    let result = await runtime.process([markerFrom(0, 0, 50)], 0);
    expect(result.stats.actorsActive).toBe(0);
    result = await runtime.process([fromTask(1, 0, { key: 'k', at: 40 }), markerFrom(2, 0, 150)], 0);
    expect(values(result.outputs)).toEqual([{ seen: 1, watermark: 150 }]);
    expect(runtime.offsets()).toEqual({ [TOPIC]: '3' });
    await runtime.close();
  });
});

import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import type { BufferedOutput } from '../../worker/thread-protocol.ts';
import { checkpoint, openRuntime, record, restoreRuntime, snapshotTarget, tempDir, values } from './task-harness.ts';

type Ev = { user: string; n: number };

/** Emits every record's `n` to an exactly-once sink (with the key's count) and an at-least-once one. */
const job = defineJob({
  name: 'epoch-test',
  sources: { events: kafkaSource('events', { format: json<Ev>() }) },
  sinks: { exact: kafkaSink('exact'), fast: kafkaSink('fast', { delivery: 'at-least-once' }) },
  actors: {
    counter: keyedActor({
      from: 'events',
      key: (event: Ev) => event.user,
      initial: () => ({ count: 0 }),
      onRecord(event, state, ctx) {
        state.count += 1;
        ctx.emit('exact', event.user, { n: event.n, count: state.count });
        ctx.emit('fast', event.user, { n: event.n });
      },
    }),
  },
});

const ev = (offset: number, user = 'ann') => record('events', offset, { user, n: offset });
/** A record that is not JSON, with binary key and value bytes. */
const bad = (offset: number) => ({ ...record('events', offset, null), key: new Uint8Array([0, 0xff, 7]), value: new Uint8Array([0x80, 0, 0xfe]) });

/** `[epoch, n]` of each output, `[epoch, 'dead', offset]` of each dead letter. */
function summary(items: readonly BufferedOutput[]): unknown[] {
  return items.map((item) => ('output' in item ? [item.epoch, (values([item.output])[0] as Ev).n] : [item.epoch, 'dead', item.deadLetter.source.offset]));
}

describe('TaskRuntime epochs and the output buffer', () => {
  it('returns at-least-once outputs at once and buffers exactly-once ones in emission order, with the event time in a header', async () => {
    const runtime = await openRuntime(job, await tempDir());
    const result = await runtime.process([ev(0), ev(1, 'bob')], 5);
    expect(result.outputs).toEqual([
      { sink: 'fast', key: 'ann', value: '{"n":0}', headers: { 'eddy.event.time': '1000' } },
      { sink: 'fast', key: 'bob', value: '{"n":1}', headers: { 'eddy.event.time': '1000' } },
    ]);
    expect(result.buffered).toEqual([
      { epoch: 1, output: { sink: 'exact', key: 'ann', value: '{"n":0,"count":1}', headers: { 'eddy.event.time': '1000' } } },
      { epoch: 1, output: { sink: 'exact', key: 'bob', value: '{"n":1,"count":1}', headers: { 'eddy.event.time': '1000' } } },
    ]);
    expect(result.stats.pendingOutputs).toBe(2);
    await runtime.close();
  });

  it('puts outputs before barrier n in epochs ≤ n and those after it in n + 1', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    expect(runtime.epoch).toBe(1);
    await runtime.process([ev(0), bad(1)], 5);
    await checkpoint(runtime, dir, 1);
    expect(runtime.epoch).toBe(2);
    await runtime.process([ev(2)], 5);
    await checkpoint(runtime, dir, 3); // checkpoint 2 was abandoned before this task saw it
    expect(summary((await runtime.process([ev(3)], 5)).buffered)).toEqual([[4, 3]]);

    expect(summary(runtime.committedOutputs(1))).toEqual([[1, 0], [1, 'dead', '1']]);
    expect(summary(runtime.committedOutputs(3))).toEqual([[1, 0], [1, 'dead', '1'], [2, 2]]);
    expect(() => runtime.committedOutputs(4)).toThrow(/last checkpoint is 3/);
    await expect(runtime.barrier(3, snapshotTarget(dir, 3))).rejects.toThrow(/barrier 3 does not follow checkpoint 3/);
    await runtime.close();
  });

  it('buffers dead letters with their original bytes, whatever the sinks, and keeps them across a restore', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    const result = await runtime.process([bad(0)], 5);
    expect(result.deadLetters).toHaveLength(1);
    expect(result.buffered).toEqual([{ epoch: 1, deadLetter: result.deadLetters[0] }]);
    const snapshot = await checkpoint(runtime, dir, 1);
    await runtime.close();

    const restored = await restoreRuntime(job, await tempDir(), snapshot, 1);
    const [item] = restored.committedOutputs(1);
    expect(item !== undefined && 'deadLetter' in item).toBe(true);
    if (item === undefined || !('deadLetter' in item)) return;
    expect(item.deadLetter).toEqual({ ...result.deadLetters[0], source: { ...bad(0) } });
    expect(item.deadLetter.source.key).toEqual(new Uint8Array([0, 0xff, 7]));
    expect(item.deadLetter.source.value).toEqual(new Uint8Array([0x80, 0, 0xfe]));
    await restored.close();
  });

  it('drops published outputs from the buffer; unpublished ones survive barrier, snapshot and restore', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process([ev(0), ev(1)], 5);
    await checkpoint(runtime, dir, 1);
    await runtime.process([ev(2)], 5);
    const snapshot2 = await checkpoint(runtime, dir, 2);
    runtime.outputsPublished(1);
    expect(runtime.committedOutputs(2).map((item) => item.epoch)).toEqual([2]);
    const afterPublish = await runtime.process([ev(3)], 5);
    expect(afterPublish.stats.pendingOutputs).toBe(2); // epoch 2 and epoch 3
    const snapshot3 = await checkpoint(runtime, dir, 3);
    await runtime.close();

    const from2 = await restoreRuntime(job, await tempDir(), snapshot2, 2); // taken before the publish
    expect(summary(from2.committedOutputs(2))).toEqual([[1, 0], [1, 1], [2, 2]]);
    expect(from2.epoch).toBe(3);
    await from2.close();
    const from3 = await restoreRuntime(job, await tempDir(), snapshot3, 3);
    expect(summary(from3.committedOutputs(3))).toEqual([[2, 2], [3, 3]]);
    from3.outputsPublished(3);
    expect(from3.committedOutputs(3)).toEqual([]);
    expect(summary((await from3.process([ev(4)], 5)).buffered)).toEqual([[4, 4]]);
    await from3.close();
  });

  it('starts at epoch restoredFrom + 1 and refuses barriers at or below it', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process([ev(0)], 5);
    const snapshot = await checkpoint(runtime, dir, 5);
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), snapshot, 5);
    expect(restored.epoch).toBe(6);
    await expect(restored.barrier(5, snapshotTarget(dir, 5))).rejects.toThrow(/does not follow checkpoint 5/);
    await restored.close();
  });
});

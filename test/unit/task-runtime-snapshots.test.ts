import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import type { TaskRuntime } from '../../worker/runtime/task-runtime.ts';
import { TASK_CLOSED } from '../../worker/runtime/snapshot-jobs.ts';
import { checkpoint, openRuntime, record, restoreRuntime, snapshotTarget, tempDir } from './task-harness.ts';

type Ev = { user: string; at: number; pad?: number };

/**
 * Per user: counts records, keeps `pad` bytes of state (to make big snapshots), sets an
 * event-time timer 100 ms after each record and a processing-time one 50 ms after its arrival;
 * emits on records and timers to an exactly-once sink, and the count to an at-least-once one.
 */
const job = defineJob({
  name: 'snapshot-test',
  sources: { events: kafkaSource('events', { format: json<Ev>() }) },
  sinks: { exact: kafkaSink('exact'), fast: kafkaSink('fast', { delivery: 'at-least-once' }) },
  watermark: { outOfOrdernessMs: 10 },
  actors: {
    user: keyedActor({
      from: 'events',
      key: (event: Ev) => event.user,
      eventTime: (event) => event.at,
      initial: () => ({ count: 0, fired: 0, pad: '' }),
      onRecord(event, state, ctx) {
        state.count += 1;
        if (event.pad !== undefined) state.pad = 'x'.repeat(event.pad);
        ctx.timers.atEventTime(event.at + 100);
        ctx.timers.atProcessingTime(ctx.now() + 50);
        ctx.emit('exact', ctx.key, { count: state.count, at: event.at });
        ctx.emit('fast', ctx.key, state.count);
      },
      onTimer(timer, state, ctx) {
        state.fired += 1;
        ctx.emit('exact', ctx.key, { timer: timer.kind, at: timer.timestampMs, fired: state.fired });
      },
    }),
  },
});

let offset = 0;
const ev = (user: string, at: number, pad?: number) => record('events', offset++, { user, at, ...(pad === undefined ? {} : { pad }) });

/** What a task does with the same requests: results, committed outputs and offsets. */
async function behaviour(runtime: TaskRuntime, batches: ReturnType<typeof ev>[][]): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (const [i, batch] of batches.entries()) seen.push(await runtime.process(batch, 1_000 + i * 40), await runtime.tick(1_030 + i * 40));
  seen.push(runtime.committedOutputs(1), runtime.offsets());
  return seen;
}

describe('TaskRuntime barriers and snapshots', () => {
  it('restores state, offsets, timers, watermark and buffer exactly: the restored task behaves as the original goes on', async () => {
    offset = 0;
    const dir = await tempDir();
    const original = await openRuntime(job, dir);
    await original.process([ev('ann', 100), ev('bob', 150), ev('ann', 170)], 1_000);
    await original.tick(1_020);
    const snapshot = await checkpoint(original, dir, 1);
    const later = [[ev('cid', 240), ev('ann', 260)], [ev('bob', 400)], []];

    const restored = await restoreRuntime(job, await tempDir(), snapshot, 1);
    expect(restored.offsets()).toEqual(original.offsets());
    const expected = await behaviour(original, later);
    expect(await behaviour(restored, later)).toEqual(expected);
    expect(JSON.stringify(expected)).toMatch(/timer\W+event-time/); // timers of both kinds fired on both sides
    expect(JSON.stringify(expected)).toMatch(/timer\W+processing-time/);
    await Promise.all([original.close(), restored.close()]);
  });

  it('handles later requests and barriers while a big snapshot is still being written', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process(Array.from({ length: 2_000 }, (_, i) => ev(`u${i}`, 100, 10_000)), 1_000); // ~20 MB of state
    const events: string[] = [];
    const first = await runtime.barrier(1, snapshotTarget(dir, 1));
    void first.snapshot.then(() => events.push('snapshot 1'));
    await runtime.process([ev('late', 200)], 1_000);
    events.push('records');
    const second = await runtime.barrier(2, snapshotTarget(dir, 2));
    events.push('barrier 2');
    const one = await first.snapshot;
    const two = await second.snapshot;
    expect(one).toMatchObject({ type: 'snapshot-written', checkpointId: 1, records: expect.any(Number) as number });
    expect(two).toMatchObject({ type: 'snapshot-written', checkpointId: 2 });
    expect(events).toEqual(['records', 'barrier 2', 'snapshot 1']);
    await runtime.close();
    if (one.type !== 'snapshot-written' || two.type !== 'snapshot-written') throw new Error('unreachable');

    const root = join(dir, 'checkpoints');
    const from1 = await restoreRuntime(job, await tempDir(), { task: 0, root, chain: one.chain }, 1);
    const from2 = await restoreRuntime(job, await tempDir(), { task: 0, root, chain: two.chain }, 2);
    expect(BigInt(from2.offsets().events ?? 0) - BigInt(from1.offsets().events ?? 0)).toBe(1n); // the late record is in 2 only
    await Promise.all([from1.close(), from2.close()]);
   }, 30_000);

  it('ends a snapshot in flight as failed ("task closed") when the task closes, leaving no file', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process([ev('ann', 100)], 1_000);
    const { snapshot } = await runtime.barrier(1, { root: join(dir, 'cp'), ref: '1.snap' });
    await runtime.close();
    expect(await snapshot).toEqual({ type: 'snapshot-failed', checkpointId: 1, reason: TASK_CLOSED });
    expect(await readdir(join(dir, 'cp')).catch(() => [])).toEqual([]);
  });

  it('declines only the checkpoint whose snapshot cannot be written; the task goes on', async () => {
    offset = 0;
    const dir = await tempDir();
    await writeFile(join(dir, 'not-a-dir'), '');
    const runtime = await openRuntime(job, dir);
    await runtime.process([ev('ann', 100)], 1_000);
    const { snapshot } = await runtime.barrier(1, { root: join(dir, 'not-a-dir'), ref: '1.snap' });
    expect(await snapshot).toMatchObject({ type: 'snapshot-failed', checkpointId: 1, reason: expect.stringMatching(/EEXIST|ENOTDIR/) as string });
    await runtime.process([ev('ann', 110)], 1_000);
    await checkpoint(runtime, dir, 2);
    await runtime.close();
  });
});

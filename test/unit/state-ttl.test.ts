// State that ends: ctx.clearState() and stateTtlMs, on a real LevelDB, through checkpoints and
// restores: a cleared or expired key is seen as new and leaves the store (and the next delta).
import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import type { TaskRuntime } from '../../worker/runtime/task-runtime.ts';
import { checkpoint, openRuntime, record, restoreRuntime, tempDir, values } from './task-harness.ts';

type In = { key: string; clear?: boolean };

function counterJob(stateTtlMs?: number) {
  return defineJob({
    name: 'ttl',
    sources: { input: kafkaSource('ttl.input', { format: json<In>() }) },
    sinks: { out: kafkaSink('ttl.out') },
    actors: {
      counter: keyedActor({
        from: 'input',
        key: (input: In) => input.key,
        initial: () => ({ n: 0 }),
        ...(stateTtlMs === undefined ? {} : { stateTtlMs }),
        onRecord(input, state, ctx) {
          state.n += 1;
          ctx.emit('out', input.key, { key: input.key, n: state.n });
          if (input.clear === true) ctx.clearState();
        },
      }),
    },
  });
}

let offset = 0;
const ev = (key: string, clear = false) => record('ttl.input', offset++, clear ? { key, clear } : { key });

/** Each key's count as the outputs of these records say. */
async function counts(runtime: TaskRuntime, records: ReturnType<typeof ev>[], nowMs: number): Promise<string[]> {
  const result = await runtime.process(records, nowMs);
  return values(result.buffered.flatMap((item) => ('output' in item ? [item.output] : []))).map((v) => {
    const { key, n } = v as { key: string; n: number };
    return `${key}=${n}`;
  });
}

describe('state that ends', () => {
  it('clearState removes the key: the next call sees initial(), the delta deletes it, a restore has none', async () => {
    offset = 0;
    const job = counterJob();
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    expect(await counts(runtime, [ev('a'), ev('a'), ev('b')], 1_000)).toEqual(['a=1', 'a=2', 'b=1']);
    await checkpoint(runtime, dir, 1);
    runtime.outputsPublished(1);
    expect(await counts(runtime, [ev('a', true), ev('a')], 1_000)).toEqual(['a=3', 'a=1']); // cleared after the call that counted 3
    expect(await counts(runtime, [ev('b', true)], 1_000)).toEqual(['b=2']);
    const two = await checkpoint(runtime, dir, 2);
    const delta = two.chain.at(-1)!;
    expect(delta.kind).toBe('delta');
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), two, 2);
    restored.outputsPublished(2);
    expect(await counts(restored, [ev('a'), ev('b')], 1_000)).toEqual(['a=2', 'b=1']);
    await restored.close();
  });

  it('a key unchanged for stateTtlMs starts over, whether it is in memory or read from the store', async () => {
    offset = 0;
    const job = counterJob(1_000);
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir, 0, { actorCacheMax: 1 }); // b is read back from its eviction entry or the store
    expect(await counts(runtime, [ev('a'), ev('b')], 10_000)).toEqual(['a=1', 'b=1']);
    expect(await counts(runtime, [ev('b')], 10_500)).toEqual(['b=2']);
    expect(await counts(runtime, [ev('a'), ev('b')], 11_000)).toEqual(['a=1', 'b=3']); // a: 1,000 ms since it changed
    await checkpoint(runtime, dir, 1);
    runtime.outputsPublished(1);
    expect(await counts(runtime, [ev('b')], 11_999)).toEqual(['b=4']);
    expect(await counts(runtime, [ev('a')], 12_001)).toEqual(['a=1']);
    const one = await checkpoint(runtime, dir, 2);
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), one, 2, 0, { actorCacheMax: 1 });
    restored.outputsPublished(2);
    expect(await counts(restored, [ev('b')], 12_500)).toEqual(['b=5']); // written at 11,999
    expect(await counts(restored, [ev('a'), ev('b')], 14_000)).toEqual(['a=1', 'b=1']);
    await restored.close();
  });

  it('sweeps expired keys out of the store on ticks, without their records, a bounded number at a time', async () => {
    offset = 0;
    const job = counterJob(5_000);
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    const keys = Array.from({ length: 2_500 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    await runtime.process(keys.map((key) => ev(key)), 1_000);
    await runtime.process([ev('fresh')], 4_000);
    const one = await checkpoint(runtime, dir, 1);
    expect(one.chain[0]!.records).toBeGreaterThan(2_500);
    runtime.outputsPublished(1);
    for (let tick = 0; tick < 3; tick++) await runtime.tick(6_000 + tick); // 1,000 keys a tick: every key once
    const two = await checkpoint(runtime, dir, 2);
    const delta = two.chain.at(-1)!;
    expect(delta.kind).toBe('delta');
    // A delete per expired key ('fresh', written at 4,000, stays) and per output published since checkpoint 1.
    expect(delta.records).toBe(2_500 + 2_501);
    runtime.outputsPublished(2);
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), two, 2);
    restored.outputsPublished(2);
    expect(await counts(restored, [ev('fresh'), ev('k0001')], 6_100)).toEqual(['fresh=2', 'k0001=1']);
    await restored.close();
  });

  it('refuses a stateTtlMs that is not a positive integer', () => {
    expect(() => counterJob(0)).toThrow(/stateTtlMs must be an integer number of ms ≥ 1, got 0/);
    expect(() => counterJob(1.5)).toThrow(/got 1\.5/);
  });
});

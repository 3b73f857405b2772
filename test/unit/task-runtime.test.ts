import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import { nextOffset } from '../../worker/runtime/source-offsets.ts';
import { checkpoint, openRuntime, record, restoreRuntime, snapshotTarget, tempDir, values } from './task-harness.ts';

type Event = { user: string; n?: number; fail?: boolean };

/**
 * Counts events per user and emits `{user, count, n}`; `fail` makes the handler throw after
 * mutating. Its sink is at-least-once, so outputs come back at once (exactly-once ones are
 * buffered: task-runtime-checkpoints.test.ts).
 */
const job = defineJob({
  name: 'runtime-test',
  sources: { events: kafkaSource('events', { format: json<Event>() }) },
  sinks: { out: kafkaSink('out', { delivery: 'at-least-once' }) },
  actors: {
    counter: keyedActor({
      from: 'events',
      key: (event: Event) => event.user,
      initial: () => ({ count: 0 }),
      onRecord(event, state, ctx) {
        state.count += 1;
        ctx.emit('out', event.user, { user: event.user, count: state.count, n: event.n ?? null });
        if (event.fail === true) throw new Error('boom');
      },
    }),
  },
});

const ev = (offset: number, user: string, extra: Partial<Event> = {}) => record('events', offset, { user, ...extra }, { keyText: user });

describe('TaskRuntime', () => {
  it('starts a fresh task with no offsets and activates actors lazily', async () => {
    const runtime = await openRuntime(job, await tempDir());
    expect(runtime.offsets()).toEqual({});
    const result = await runtime.process([ev(0, 'ann'), ev(1, 'bob'), ev(2, 'ann')], 5);
    expect(values(result.outputs)).toEqual([
      { user: 'ann', count: 1, n: null },
      { user: 'bob', count: 1, n: null },
      { user: 'ann', count: 2, n: null },
    ]);
    expect(result.outputs.map((o) => [o.sink, o.key])).toEqual([['out', 'ann'], ['out', 'bob'], ['out', 'ann']]);
    expect(result.stats).toEqual({ actorsActive: 2, pendingOutputs: 0, timersPending: 0, watermarkMs: 1_000 });
    expect(result.buffered).toEqual([]);
    await runtime.close();
  });

  it('keeps state and offsets of a barrier, not what came after it, across close and restore', async () => {
    const dir = await tempDir();
    const first = await openRuntime(job, dir);
    await first.process([ev(10, 'ann'), ev(11, 'ann')], 5);
    const snapshot = await checkpoint(first, dir, 1);
    await first.process([ev(12, 'ann')], 5);
    await first.close(); // close writes nothing: offset 12 and its count are dropped

    const second = await restoreRuntime(job, await tempDir(), snapshot, 1);
    expect(second.offsets()).toEqual({ events: '12' });
    const result = await second.process([ev(12, 'ann')], 5);
    expect(values(result.outputs)).toEqual([{ user: 'ann', count: 3, n: null }]);
    await second.close();
  });

  it('opens a fresh task on a wiped directory, whatever the last owner left there', async () => {
    const dir = await tempDir();
    const first = await openRuntime(job, dir);
    await first.process([ev(0, 'ann')], 5);
    await checkpoint(first, dir, 1);
    await first.close();

    const fresh = await openRuntime(job, dir);
    expect(fresh.offsets()).toEqual({});
    expect(fresh.epoch).toBe(1);
    expect(values((await fresh.process([ev(0, 'ann')], 5)).outputs)).toEqual([{ user: 'ann', count: 1, n: null }]);
    await fresh.close();
  });

  it('handles records strictly in the order given', async () => {
    const runtime = await openRuntime(job, await tempDir());
    const records = Array.from({ length: 50 }, (_, i) => ev(i, i % 2 === 0 ? 'ann' : 'bob', { n: i }));
    const result = await runtime.process(records, 5);
    expect(values(result.outputs).map((v) => (v as { n: number }).n)).toEqual(records.map((_, i) => i));
    await runtime.close();
  });

  it('dead-letters a record that is not JSON, with the original bytes, and moves past it', async () => {
    const runtime = await openRuntime(job, await tempDir());
    const bad = record('events', 1, '{"user": nope');
    const result = await runtime.process([ev(0, 'ann'), bad, ev(2, 'ann')], 5);
    expect(result.deadLetters).toHaveLength(1);
    const [letter] = result.deadLetters;
    expect(letter?.source).toBe(bad);
    expect(new TextDecoder().decode(letter?.source.value ?? undefined)).toBe('{"user": nope');
    expect(letter?.field).toBe('');
    expect(letter?.reason).toMatch(/^not valid JSON/);
    expect(letter?.actor).toBeUndefined();
    expect(result.buffered).toEqual([{ epoch: 1, deadLetter: letter }]); // dead letters are published exactly once
    expect(result.stats.pendingOutputs).toBe(1);
    expect(values(result.outputs)).toHaveLength(2);
    expect(runtime.offsets()).toEqual({ events: '3' });
    await runtime.close();
  });

  it('rolls back the state and drops the outputs of a handler that throws, then carries on', async () => {
    const runtime = await openRuntime(job, await tempDir());
    const result = await runtime.process([ev(0, 'ann'), ev(1, 'ann', { fail: true }), ev(2, 'ann')], 5);
    expect(values(result.outputs)).toEqual([
      { user: 'ann', count: 1, n: null },
      { user: 'ann', count: 2, n: null }, // not 3: the failed call's increment was rolled back
    ]);
    expect(result.deadLetters).toEqual([{ source: ev(1, 'ann', { fail: true }), field: '', reason: 'handler threw: boom', actor: 'counter' }]);
    expect(runtime.offsets()).toEqual({ events: '3' });
    await runtime.close();
  });

  it('evicts the least recently used actor, writing it back first, and folds evictions into the barrier', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir, 0, { actorCacheMax: 2 });
    await runtime.process([ev(0, 'ann'), ev(1, 'bob'), ev(2, 'ann'), ev(3, 'cid')], 5); // bob is the LRU when cid arrives
    let result = await runtime.process([ev(4, 'bob'), ev(5, 'ann')], 5); // bob comes back from its eviction entry; ann was evicted for it
    expect(values(result.outputs)).toEqual([
      { user: 'bob', count: 2, n: null },
      { user: 'ann', count: 3, n: null },
    ]);
    expect(result.stats.actorsActive).toBe(2);
    const snapshot = await checkpoint(runtime, dir, 1);
    await runtime.close();
    const reopened = await restoreRuntime(job, await tempDir(), snapshot, 1, 0, { actorCacheMax: 2 });
    result = await reopened.process([ev(6, 'ann'), ev(7, 'bob'), ev(8, 'cid')], 5);
    expect(values(result.outputs).map((v) => (v as { count: number }).count)).toEqual([4, 3, 2]);
    await reopened.close();
  });

  it('keeps evictions after a barrier out of its snapshot', async () => {
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir, 0, { actorCacheMax: 1 });
    await runtime.process([ev(0, 'ann')], 5);
    const target = snapshotTarget(dir, 1);
    const { snapshot } = await runtime.barrier(1, target);
    await runtime.process([ev(1, 'ann'), ev(2, 'bob')], 5); // ann (count 2) goes to an eviction entry, after the barrier
    const written = await snapshot;
    if (written.type !== 'snapshot-written') throw new Error(written.reason);
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), { task: 0, root: target.root, chain: written.chain }, 1);
    expect(restored.offsets()).toEqual({ events: '1' });
    const result = await restored.process([ev(1, 'ann'), ev(2, 'bob')], 5);
    expect(values(result.outputs)).toEqual([
      { user: 'ann', count: 2, n: null },
      { user: 'bob', count: 1, n: null },
    ]);
    await restored.close();
  });

  it('refuses a record already handled, or of another partition', async () => {
    const runtime = await openRuntime(job, await tempDir());
    await runtime.process([ev(5, 'ann')], 5);
    await expect(runtime.process([ev(5, 'ann')], 5)).rejects.toThrow(/already handled/);
    await expect(runtime.process([{ ...ev(6, 'ann'), partition: 3 }], 5)).rejects.toThrow(/events\[3\]/);
    await runtime.close();
  });

  it('counts offsets past 2^53 exactly', () => {
    expect(nextOffset('9007199254740993')).toBe('9007199254740994');
  });
});

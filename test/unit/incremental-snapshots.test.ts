// Incremental checkpoints on a real LevelDB and real snapshot files: a base, then deltas of what
// changed, an empty delta when nothing changed, a base again after a failed snapshot, compaction
// into a new base in the background, and restores from every chain equal to the state they name.
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import { SnapshotCorruptError } from '../../state/snapshot-format.ts';
import { restoreTaskStore, type ChainSource } from '../../state/task-store-open.ts';
import { bufferChanges } from '../../worker/runtime/snapshot-jobs.ts';
import type { TaskRuntime } from '../../worker/runtime/task-runtime.ts';
import { checkpoint, openRuntime, record, restoreRuntime, tempDir, values } from './task-harness.ts';

type Add = { key: string; n: number };

// `n: 0` puts a key back to its initial state, which a flush deletes.
const job = defineJob({
  name: 'tally',
  sources: { input: kafkaSource('tally.input', { format: json<Add>() }) },
  sinks: { out: kafkaSink('tally.out') },
  actors: {
    tally: keyedActor({
      from: 'input',
      key: (input: Add) => input.key,
      initial: () => ({ total: 0 }),
      onRecord(input, state, ctx) {
        state.total = input.n === 0 ? 0 : state.total + input.n;
        ctx.emit('out', input.key, { key: input.key, total: state.total });
      },
    }),
  },
});

let offset = 0;
const add = (key: string, n: number) => record('tally.input', offset++, { key, n });

/** The totals the task holds for `keys`, read from the outputs of adding 1 to each (the runtime is not used afterwards). */
async function totals(runtime: TaskRuntime, keys: readonly string[]): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  const probe = keys.map((key) => add(key, 1));
  const result = await runtime.process(probe, 1_000);
  for (const value of values(result.buffered.flatMap((item) => ('output' in item ? [item.output] : [])))) {
    const { key, total } = value as { key: string; total: number };
    seen[key] = total - 1;
  }
  return seen;
}

const summary = (source: ChainSource) => source.chain.map(({ kind, checkpointId }) => `${kind} ${checkpointId}`);

describe('incremental checkpoints', () => {
  it('writes a base, then only what changed, then an empty delta; each chain restores its own state', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    const keys = Array.from({ length: 1_000 }, (_, i) => `k${i}`);
    await runtime.process(keys.map((key) => add(key, 5)), 1_000);
    const one = await checkpoint(runtime, dir, 1);
    expect(summary(one)).toEqual(['base 1']);
    expect(one.chain[0]!.records).toBeGreaterThan(1_000); // every actor, the outputs, offset, watermark
    runtime.outputsPublished(1);

    await runtime.process([add('k1', 2), add('k2', 0)], 1_000); // k2 back to its initial state: deleted
    const two = await checkpoint(runtime, dir, 2);
    expect(summary(two)).toEqual(['base 1', 'delta 2']);
    // k1's new state, k2's deletion, the offset, the two new outputs and a delete for each of
    // the 1,000 published since checkpoint 1: not the 1,000 keys' states.
    expect(two.chain[1]!.records).toBe(1_005);
    runtime.outputsPublished(2);

    const three = await checkpoint(runtime, dir, 3); // the buffer still held epoch 2's outputs: this delta deletes them
    expect(summary(three)).toEqual(['base 1', 'delta 2', 'delta 3']);
    expect(three.chain[2]!.records).toBe(2);
    // Nothing at all changed: an empty delta of its own, which the next idle checkpoint replaces.
    const four = await checkpoint(runtime, dir, 4);
    expect(summary(four)).toEqual(['base 1', 'delta 2', 'delta 3', 'delta 4']);
    expect(four.chain[3]).toMatchObject({ records: 0, bytes: 64 });
    const five = await checkpoint(runtime, dir, 5);
    expect(summary(five)).toEqual(['base 1', 'delta 2', 'delta 3', 'delta 5']);
    expect(five.chain.slice(0, 3)).toEqual(four.chain.slice(0, 3));
    await runtime.close();

    for (const [source, id, expected] of [
      [one, 1, { k1: 5, k2: 5, k999: 5 }],
      [two, 2, { k1: 7, k2: 0, k999: 5 }],
      [four, 4, { k1: 7, k2: 0, k999: 5 }],
      [five, 5, { k1: 7, k2: 0, k999: 5 }],
    ] as const) {
      const restored = await restoreRuntime(job, await tempDir(), source, id);
      expect(restored.committedOutputs(id)).toHaveLength(id === 1 ? 1_000 : id === 2 ? 2 : 0);
      restored.outputsPublished(id);
      expect(await totals(restored, ['k1', 'k2', 'k999'])).toEqual(expected);
      await restored.close();
    }
  });

  it('writes a base again after a snapshot failed, since a delta needs the link below it', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process([add('a', 1)], 1_000);
    await checkpoint(runtime, dir, 1);
    await runtime.process([add('a', 1)], 1_000);
    await writeFile(join(dir, 'not-a-dir'), '');
    const failed = await runtime.barrier(2, { root: join(dir, 'not-a-dir'), ref: '2.snap' });
    expect(await failed.snapshot).toMatchObject({ type: 'snapshot-failed', checkpointId: 2 });
    await runtime.process([add('b', 1)], 1_000);
    const three = await checkpoint(runtime, dir, 3);
    expect(summary(three)).toEqual(['base 3']);
    runtime.outputsPublished(3);
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), three, 3);
    expect(await totals(restored, ['a', 'b'])).toEqual({ a: 2, b: 1 });
    await restored.close();
  });

  it('compacts a long chain into a new base in the background, moved into a later checkpoint', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir, 0, { compaction: { maxDeltas: 2, deltaRatio: 100 } });
    await runtime.process([add('a', 1), add('b', 1)], 1_000);
    await checkpoint(runtime, dir, 1);
    let last: ChainSource | undefined;
    const chains: string[][] = [];
    for (let id = 2; id <= 6; id++) {
      await runtime.process([add('a', 1)], 1_000);
      last = await checkpoint(runtime, dir, id);
      runtime.outputsPublished(id);
      chains.push(summary(last));
      await setTimeout(100); // the time between checkpoints, in which a compaction finishes
    }
    // Checkpoint 4 finds two deltas and starts a base of its own state; checkpoint 5 adopts it.
    expect(chains).toEqual([
      ['base 1', 'delta 2'],
      ['base 1', 'delta 2', 'delta 3'],
      ['base 1', 'delta 2', 'delta 3', 'delta 4'],
      ['base 4', 'delta 5'],
      ['base 4', 'delta 5', 'delta 6'],
    ]);
    expect(last!.chain[0]!.ref).toBe(join('5', 'task-0.base-4.snap')); // moved out of checkpoint 4's directory
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), last!, 6);
    expect(await totals(restored, ['a', 'b'])).toEqual({ a: 6, b: 1 });
    await restored.close();
  });

  it('compacts at a barrier that changed nothing: the base replaces the last delta that did, and the chain still verifies', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir, 0, { compaction: { maxDeltas: 2, deltaRatio: 100 } });
    await runtime.process([add('a', 1)], 1_000);
    await checkpoint(runtime, dir, 1);
    runtime.outputsPublished(1);
    await runtime.process([add('a', 1)], 1_000);
    await checkpoint(runtime, dir, 2);
    runtime.outputsPublished(2);
    await checkpoint(runtime, dir, 3); // deletes epoch 2's published output
    const chains: string[][] = [];
    let last: ChainSource | undefined;
    for (let id = 4; id <= 8; id++) {
      last = await checkpoint(runtime, dir, id); // nothing changes: each empty delta replaces the one before
      chains.push(summary(last));
      await setTimeout(100);
    }
    // Barrier 4 finds two deltas and starts a base; it equals link 3's state, the last that changed
    // something (link 4 is replaced by 5). A later barrier adopts it in place of links 1-3.
    expect(chains[0]).toEqual(['base 1', 'delta 2', 'delta 3', 'delta 4']);
    expect(chains.at(-1)).toEqual(['base 3', 'delta 8']);
    await runtime.close();
    await runtime.close();
    const restored = await restoreRuntime(job, await tempDir(), last!, 8);
    expect(await totals(restored, ['a'])).toEqual({ a: 2 });
    await restored.close();
  });

  it('refuses a chain with a corrupt delta, naming the file, before loading anything', async () => {
    offset = 0;
    const dir = await tempDir();
    const runtime = await openRuntime(job, dir);
    await runtime.process([add('a', 1)], 1_000);
    await checkpoint(runtime, dir, 1);
    await runtime.process([add('a', 1)], 1_000);
    const two = await checkpoint(runtime, dir, 2);
    await runtime.close();
    const path = join(two.root, two.chain[1]!.ref);
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(Math.floor(bytes.length / 2)) ^ 0xff, Math.floor(bytes.length / 2));
    writeFileSync(path, bytes);
    const target = join(await tempDir(), 'task-0');
    await expect(restoreTaskStore(target, two)).rejects.toBeInstanceOf(SnapshotCorruptError);
    await expect(restoreTaskStore(target, two)).rejects.toThrow(path);
    // A chain whose links are out of place is refused too.
    await expect(restoreTaskStore(target, { ...two, chain: [two.chain[1]!] })).rejects.toThrow(/link 0 .* is a delta of checkpoint 2; expected a base/);
  });
});

describe('bufferChanges', () => {
  const entry = (key: string, value = 'v'): [Uint8Array, Uint8Array] => [Buffer.from(key), Buffer.from(value)];
  const show = (entries: readonly [Uint8Array, Uint8Array][]) => entries.map(([k, v]) => `${Buffer.from(k).toString()}:${v[0] === 1 ? `put ${Buffer.from(v.subarray(1)).toString()}` : 'del'}`);

  it('puts what was sealed since and deletes what was published since, in key order', () => {
    const before = [entry('b1'), entry('b2'), entry('b3')];
    const after = [entry('b3'), entry('b4', 'x'), entry('b5', 'y')];
    expect(show(bufferChanges(before, after))).toEqual(['b1:del', 'b2:del', 'b4:put x', 'b5:put y']);
    expect(bufferChanges(after, after)).toEqual([]);
    expect(show(bufferChanges([], [entry('a')]))).toEqual(['a:put v']);
    expect(show(bufferChanges([entry('a')], []))).toEqual(['a:del']);
  });
});

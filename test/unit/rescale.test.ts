// Re-sharding a checkpoint to more tasks (real snapshot files and LevelDB): every key's state and
// timers land in the task Kafka's default partitioner gives the key under the new count, offsets
// and buffered outputs stay with their task number, and a key in the wrong place is refused.
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RescaleRefusedError } from '../../common/errors.ts';
import { keyPartitioner } from '../../common/partitioner.ts';
import { CheckpointStore, manifestFormat, type TaskCheckpoint } from '../../state/checkpoint-store.ts';
import { rescaleCheckpoint } from '../../state/rescale.ts';
import { writeSnapshot } from '../../state/snapshot-writer.ts';
import { actorKey, bufferKey, offsetKey, timerKey, WATERMARK_KEY, type StoredTimer } from '../../state/store-keys.ts';
import { restoreTaskStore } from '../../state/task-store-open.ts';
import { tempDir } from './task-harness.ts';

const logger = pino({ level: 'silent' });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Entries = Map<string, string>;

/** Writes checkpoint `checkpointId` with one base per task holding `entries[task]`. */
async function writeCheckpoint(store: CheckpointStore, checkpointId: number, entries: Entries[], offsets: Record<string, string>[]): Promise<void> {
  const tasks: TaskCheckpoint[] = [];
  for (const [task, map] of entries.entries()) {
    const ref = store.snapshotRef(checkpointId, task, 'w1', 1);
    const sorted = [...map].map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
    const written = await writeSnapshot(store.resolve(ref), { task, checkpointId, kind: 'base' }, [sorted]);
    tasks.push({ task, owner: 'w1', generation: 1, snapshot: ref, bytes: written.bytes, records: written.records, offsets: offsets[task] ?? {}, chain: [{ ref, checkpointId, kind: 'base', ...written }] });
  }
  await store.writeManifest({ format: manifestFormat, job: 'j', checkpointId, triggeredAtMs: 0, completedAtMs: 0, tasks });
}

async function readTask(store: CheckpointStore, checkpointId: number, task: number): Promise<Entries> {
  const dir = join(await tempDir(), 'restore');
  const restored = await restoreTaskStore(dir, { task, root: store.root, chain: await store.chainOf(checkpointId, task) });
  const out: Entries = new Map();
  const view = restored.openView();
  for await (const batch of view.batches()) for (const [k, v] of batch) out.set(decoder.decode(k), decoder.decode(v));
  await view.close();
  await restored.close();
  return out;
}

const timer = (key: string): StoredTimer => ({ kind: 'event-time', timestampMs: 1_000, actor: 'counter', key, tag: 'close' });

/** Two tasks' state as a job keyed by the Kafka key would leave it: each key in its partition of 2. */
function twoTasks(keys: string[]): Entries[] {
  const partitionOf = keyPartitioner('', 2);
  const entries: Entries[] = [new Map<string, string>(), new Map<string, string>()];
  for (const key of keys) {
    const map = entries[partitionOf(key)]!;
    map.set(actorKey('counter', key), JSON.stringify({ count: key.length }));
    if (key.endsWith('7')) map.set(timerKey(timer(key)), JSON.stringify(timer(key)));
  }
  entries[0]!.set(offsetKey('in'), '500');
  entries[1]!.set(offsetKey('in'), '700');
  entries[0]!.set(bufferKey({ epoch: 3, seq: 1 }), '{"sink":"out","key":"x"}');
  entries[0]!.set(WATERMARK_KEY, JSON.stringify({ watermarkMs: 9_000, sources: {} }));
  entries[1]!.set(WATERMARK_KEY, JSON.stringify({ watermarkMs: 4_000, sources: {} }));
  return entries;
}

describe('rescaleCheckpoint', () => {
  it('moves every key to the task of its new partition, keeps offsets and buffers with their task, and takes the lowest watermark', async () => {
    const store = new CheckpointStore(await tempDir());
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    await writeCheckpoint(store, 4, twoTasks(keys), [{ in: '500' }, { in: '700' }]);
    const from = await store.readManifest(4);

    const manifest = await rescaleCheckpoint({ store, from, taskCount: 5, checkpointId: 6, workDir: join(await tempDir(), 'work'), logger });

    expect((await store.completed())[0]).toBe(6);
    expect(manifest.tasks.map((t) => [t.task, t.offsets])).toEqual([[0, { in: '500' }], [1, { in: '700' }], [2, {}], [3, {}], [4, {}]]);
    const newPartition = keyPartitioner('', 5);
    const seen = new Map<string, number>();
    for (let task = 0; task < 5; task++) {
      const entries = await readTask(store, 6, task);
      for (const [key, value] of entries) {
        if (key.startsWith('a\x00')) {
          const actorKeyPart = key.split('\x00')[2]!;
          expect(newPartition(actorKeyPart)).toBe(task);
          expect(JSON.parse(value)).toEqual({ count: actorKeyPart.length });
          seen.set(actorKeyPart, (seen.get(actorKeyPart) ?? 0) + 1);
        } else if (key.startsWith('t\x00')) {
          expect(newPartition((JSON.parse(value) as StoredTimer).key)).toBe(task);
        }
      }
      expect(entries.get(WATERMARK_KEY)).toBe(JSON.stringify({ watermarkMs: 4_000, sources: {} }));
      expect(entries.get(offsetKey('in'))).toBe(task === 0 ? '500' : task === 1 ? '700' : undefined);
      expect([...entries.keys()].filter((k) => k.startsWith('b\x00')).length).toBe(task === 0 ? 1 : 0);
      expect([...entries.keys()].filter((k) => k.startsWith('t\x00')).length).toBe(keys.filter((k) => k.endsWith('7') && newPartition(k) === task).length);
    }
    expect(seen.size).toBe(keys.length);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // Keys really moved: some task beyond the old two holds state.
    expect(keys.some((k) => newPartition(k) >= 2)).toBe(true);
  });

  it('refuses a key whose state is not in the task its Kafka key partitions to, naming it', async () => {
    const store = new CheckpointStore(await tempDir());
    const entries = twoTasks(['a', 'b', 'c']);
    const wrongTask = 1 - keyPartitioner('', 2)('zz');
    entries[wrongTask]!.set(actorKey('counter', 'zz'), '{}');
    await writeCheckpoint(store, 2, entries, [{}, {}]);

    const rescaled = rescaleCheckpoint({ store, from: await store.readManifest(2), taskCount: 3, checkpointId: 3, workDir: join(await tempDir(), 'work'), logger });

    await expect(rescaled).rejects.toThrow(RescaleRefusedError);
    await expect(rescaled).rejects.toThrow(/actor 'counter' for key "zz" is in task \d, but Kafka's default partitioner puts key "zz" in partition \d of 2/);
    expect(await store.completed()).toEqual([2]);
  });

  it('refuses fewer tasks than the checkpoint has', async () => {
    const store = new CheckpointStore(await tempDir());
    await writeCheckpoint(store, 1, twoTasks(['a']), [{}, {}]);
    await expect(rescaleCheckpoint({ store, from: await store.readManifest(1), taskCount: 1, checkpointId: 2, workDir: join(await tempDir(), 'work'), logger }))
      .rejects.toThrow(/has 2 tasks and the job now has 1/);
  });
});

import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';
import { ActorThreads } from '../../worker/actor-threads.ts';
import { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import type { Marker } from '../../worker/marker-reader.ts';
import { RestoreRefusedError, restoreTask } from '../../worker/task-restore.ts';
import type { TaskTransactions } from '../../worker/task-transactions.ts';
import type { BufferedOutput, SnapshotResult, ThreadRequest, ThreadResponse } from '../../worker/thread-protocol.ts';
import { record, tempDir } from './task-harness.ts';

/**
 * The Kafka side of a task, faked: records what would be published and answers the marker
 * (`checkpointId` 0 = none; its store is the test store's (SAME), another, or unknown (null)).
 */
const SAME = '<the test store>';
class FakeTransactions {
  fenced = 0;
  published: { checkpointId: number; outputs: readonly BufferedOutput[] }[] = [];
  /** Set by the test once the store exists. */
  storeId = '';
  constructor(public marker: number, private readonly markerStore: string | null = SAME) {}
  fence(): Promise<void> {
    this.fenced += 1;
    return Promise.resolve();
  }
  /** The job's task count: the one task the manifests hold. */
  taskCount(): Promise<number> {
    return Promise.resolve(1);
  }
  lastPublished(): Promise<Marker | undefined> {
    if (this.marker === 0) return Promise.resolve(undefined);
    return Promise.resolve({ checkpointId: this.marker, store: this.markerStore === SAME ? this.storeId : (this.markerStore ?? undefined) });
  }
  publish(checkpointId: number, outputs: readonly BufferedOutput[]): Promise<void> {
    this.published.push({ checkpointId, outputs });
    return Promise.resolve();
  }
}

const threads: ActorThreads[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

const task = 2;
const input = (offset: number, key: string, seq: number) => record(EOS_TOPICS.input, offset, { key, seq }, { partition: task, keyText: key });

/** A task that took checkpoints 1 (after 2 records) and 2 (after 3 more), with manifests written. */
async function twoCheckpoints() {
  const pool = new ActorThreads(1, { jobRef: 'eos-check' });
  threads.push(pool);
  const call = async <T extends ThreadResponse['type']>(request: ThreadRequest, _expect?: T) => (await pool.run(task, request, request.type === 'barrier' ? [request.done] : undefined)) as Extract<ThreadResponse, { type: T }>;
  const dataDir = await tempDir();
  const store = new CheckpointStore(await tempDir());
  const { storeId } = await store.identity('eos-check');
  await call({ type: 'open', task, dataDir, restore: null });
  const take = async (checkpointId: number) => {
    const { port1, port2 } = new MessageChannel();
    const done = once(port1, 'message');
    const snapshot = store.snapshotRef(checkpointId, task, 'w1-i1', 7);
    const taken = await call<'barrier-taken'>({ type: 'barrier', task, checkpointId, target: { root: store.root, ref: snapshot }, done: port2 });
    const [result] = (await done) as [SnapshotResult];
    port1.close();
    if (result.type !== 'snapshot-written') throw new Error(`snapshot failed: ${result.reason}`);
    await store.writeManifest({
      format: 3, job: 'eos-check', checkpointId, triggeredAtMs: 0, completedAtMs: 0,
      tasks: [{ task, owner: 'w1', generation: 7, snapshot, bytes: 0, records: 0, offsets: taken.offsets, chain: result.chain }],
    });
  };
  await call({ type: 'records', task, records: [input(0, 'a', 1), input(1, 'a', 2)], nowMs: 0 });
  await take(1);
  await call({ type: 'records', task, records: [input(2, 'a', 3), input(3, 'b', 1), input(4, 'a', 4)], nowMs: 0 });
  await take(2);
  await call({ type: 'close', task });
  const transactions = (marker: number, markerStore: string | null = SAME) => {
    const fake = new FakeTransactions(marker, markerStore);
    fake.storeId = storeId;
    return fake;
  };
  return { call, dataDir, store, transactions };
}

const silent = createLogger('test', 'silent');

/** Flips one byte in the middle of checkpoint `id`'s snapshot of the task. */
function corrupt(store: CheckpointStore, id: number): string {
  const path = store.resolve(store.snapshotRef(id, task, 'w1-i1', 7));
  const bytes = readFileSync(path);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  writeFileSync(path, bytes);
  return path;
}

describe('restoring a task (worker/task-restore.ts)', () => {
  it('fences, restores the named checkpoint and publishes what it holds beyond the marker', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const transactions = fake(1);
    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: silent, call });
    expect(transactions.fenced).toBe(1);
    expect(restored).toEqual({ restoredFrom: 2, offsets: { [EOS_TOPICS.input]: '5' }, publishedThrough: 2 });
    // Epoch 1's outputs were published (marker 1); epoch 2's three go out now, with marker 2.
    expect(transactions.published).toHaveLength(1);
    expect(transactions.published[0]?.checkpointId).toBe(2);
    expect(transactions.published[0]?.outputs.map((o) => ('output' in o ? o.output.value : null))).toEqual([
      '{"key":"a","seq":3,"count":3}', '{"key":"b","seq":1,"count":1}', '{"key":"a","seq":4,"count":4}',
    ]);
  });

  it('falls back to the previous complete checkpoint when the newest snapshot is corrupt, naming the file', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const path = corrupt(store, 2);
    const errors: string[] = [];
    const logger = createLogger('test', 'silent');
    logger.error = ((obj: { err?: string }) => errors.push(obj.err ?? ''));
    const transactions = fake(0);

    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger, call });

    expect(restored.restoredFrom).toBe(1);
    expect(restored.offsets).toEqual({ [EOS_TOPICS.input]: '2' });
    expect(restored.replayUntil).toBeUndefined();
    expect(errors.some((e) => e.includes(path))).toBe(true);
    expect(transactions.published.map((p) => [p.checkpointId, p.outputs.length])).toEqual([[1, 2]]);
  });

  it('falls back past a corrupt snapshot whose outputs are published by replaying to its offsets, publishing nothing', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    corrupt(store, 2);
    const transactions = fake(2); // checkpoint 2's outputs are out: republishing them would double them
    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: silent, call });
    expect(restored).toEqual({ restoredFrom: 1, offsets: { [EOS_TOPICS.input]: '2' }, publishedThrough: 2, replayUntil: { [EOS_TOPICS.input]: '5' } });
    expect(transactions.published).toEqual([]);
  });

  it('restores the marker\'s checkpoint when the coordinator named an older one', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const transactions = fake(2);
    const restored = await restoreTask({ task, restoreFrom: 1, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: silent, call });
    expect(restored).toEqual({ restoredFrom: 2, offsets: { [EOS_TOPICS.input]: '5' }, publishedThrough: 2 });
    expect(transactions.published).toEqual([]);
  });

  it('also with restoreFrom 0: a task never starts fresh over markers of its own store', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const restored = await restoreTask({ task, restoreFrom: 0, dataDir, checkpoints: store, transactions: fake(1) as unknown as TaskTransactions, logger: silent, call });
    expect(restored.restoredFrom).toBe(1);
  });

  it('refuses to go backwards when the marker names a checkpoint this store has no manifest of', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const restore = restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: fake(9) as unknown as TaskTransactions, logger: silent, call });
    await expect(restore).rejects.toThrow(RestoreRefusedError);
    await expect(restore).rejects.toThrow(/task 2: asked to restore checkpoint 2, but its commit marker says checkpoint 9 was published .* no manifest/);
  });

  it('refuses markers of another checkpoint store (a lost or wrong checkpoint directory), naming task, checkpoint and marker', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    for (const [restoreFrom, markerStore] of [[0, 'other-store'], [2, null]] as const) {
      const transactions = fake(5, markerStore);
      const restore = restoreTask({ task, restoreFrom, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: silent, call });
      await expect(restore).rejects.toThrow(new RegExp(`task 2: its commit marker says checkpoint 5 of .*(other-store|unknown).*asked to restore checkpoint ${restoreFrom}.*eddy reset`));
      expect(transactions.published).toEqual([]);
    }
  });

  it('restores the task\'s fallback when a file every retained chain shares is corrupt, then replays to the published offsets', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    // Retention kept checkpoint 1 as the fallback, its chain a file of its own (an older base, as after a compaction).
    const entry1 = (await store.readManifest(1)).tasks[0]!;
    const own = join('chk-1', 'task-2.older-base.snap');
    copyFileSync(store.resolve(entry1.snapshot), store.resolve(own));
    const chain = [{ ...entry1.chain![0]!, ref: own }];
    writeFileSync(join(store.root, 'fallbacks.json'), JSON.stringify({ format: 1, tasks: { [task]: [{ format: 1, checkpointId: 1, taskCount: 1, entry: { ...entry1, snapshot: own, chain } }] } }));
    rmSync(join(store.root, 'manifests', 'chk-1.json'));
    corrupt(store, 1); // the base checkpoint 2's chain stands on

    const transactions = fake(2);
    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: silent, call });
    expect(restored).toEqual({ restoredFrom: 1, offsets: { [EOS_TOPICS.input]: '2' }, publishedThrough: 2, replayUntil: { [EOS_TOPICS.input]: '5' } });
    expect(transactions.published).toEqual([]);
  });

  it('takes the published checkpoint\'s offsets from what retention remembers once its manifest is gone, and refuses when nothing does', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    const entry1 = (await store.readManifest(1)).tasks[0]!;
    const entry2 = (await store.readManifest(2)).tasks[0]!;
    const own = join('chk-1', 'task-2.older-base.snap');
    copyFileSync(store.resolve(entry1.snapshot), store.resolve(own));
    const fallback = { format: 1, checkpointId: 1, taskCount: 1, entry: { ...entry1, snapshot: own, chain: [{ ...entry1.chain![0]!, ref: own }] } };
    // Retention dropped both manifests (newer checkpoints were taken while the marker stayed at 2); checkpoint 2's chain is damaged.
    rmSync(join(store.root, 'manifests', 'chk-1.json'));
    rmSync(join(store.root, 'manifests', 'chk-2.json'));
    await store.writeManifest({ format: 3, job: 'eos-check', checkpointId: 3, triggeredAtMs: 0, completedAtMs: 0, tasks: [{ ...entry2 }] });
    corrupt(store, 1);
    writeFileSync(join(store.root, 'fallbacks.json'), JSON.stringify({ format: 1, tasks: { [task]: [fallback] }, offsets: { [task]: { 1: entry1.offsets, 2: entry2.offsets } } }));
    const restored = await restoreTask({ task, restoreFrom: 3, dataDir, checkpoints: store, transactions: fake(2) as unknown as TaskTransactions, logger: silent, call });
    expect(restored).toEqual({ restoredFrom: 1, offsets: { [EOS_TOPICS.input]: '2' }, publishedThrough: 2, replayUntil: { [EOS_TOPICS.input]: '5' } });
    await call({ type: 'close', task });

    writeFileSync(join(store.root, 'fallbacks.json'), JSON.stringify({ format: 1, tasks: { [task]: [fallback] } }));
    const refused = restoreTask({ task, restoreFrom: 3, dataDir, checkpoints: store, transactions: fake(2) as unknown as TaskTransactions, logger: silent, call });
    await expect(refused).rejects.toThrow(/task 2: restored checkpoint 1, but checkpoint 2 \(its published one\) is neither retained nor remembered/);
  });

  it('rebuilds the state from the whole input when no checkpoint is usable and the input starts at offset 0', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    corrupt(store, 1); // in both chains
    const warnings: string[] = [];
    const logger = createLogger('test', 'silent');
    logger.warn = ((_obj: unknown, msg?: string) => warnings.push(msg ?? ''));
    const transactions = fake(2);
    const restored = await restoreTask({
      task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger, call,
      input: () => Promise.resolve({ start: { [EOS_TOPICS.input]: '0' }, compacted: [] }),
    });
    // Nothing restored; everything up to checkpoint 2's offsets is read again, from offset 0, and its outputs discarded (published already).
    expect(restored).toEqual({ restoredFrom: 0, offsets: { [EOS_TOPICS.input]: '0' }, publishedThrough: 2, replayUntil: { [EOS_TOPICS.input]: '5' } });
    expect(transactions.published).toEqual([]);
    expect(warnings.some((w) => w.includes('rebuilding its state from its whole input'))).toBe(true);
  });

  it('does not rebuild from an input whose start was deleted, a compacted one, one of several topics, or one a rescale re-sharded, and says why', async () => {
    const { call, dataDir, store, transactions: fake } = await twoCheckpoints();
    corrupt(store, 1);
    const restore = (start: Record<string, string>, compacted: string[] = []) =>
      restoreTask({
        task, restoreFrom: 2, dataDir, checkpoints: store, transactions: fake(2) as unknown as TaskTransactions, logger: silent, call,
        input: () => Promise.resolve({ start, compacted }),
      });
    await expect(restore({ [EOS_TOPICS.input]: '3' })).rejects.toThrow(new RegExp(`no usable checkpoint at or below 2 .*cannot be rebuilt from its input: ${EOS_TOPICS.input} partition 2 starts at offset 3 \\(records were deleted\\)`));
    await expect(restore({ [EOS_TOPICS.input]: '0' }, [EOS_TOPICS.input])).rejects.toThrow(new RegExp(`cannot be rebuilt from its input: ${EOS_TOPICS.input} is compacted`));
    await expect(restore({ [EOS_TOPICS.input]: '0', other: '0' })).rejects.toThrow(/cannot be rebuilt from its input: it reads 2 topics .* whose replay would not interleave as the first run did/);
    await store.noteRescale(3);
    await expect(restore({ [EOS_TOPICS.input]: '0' })).rejects.toThrow(/cannot be rebuilt from its input: the job was rescaled/);
  });

  it('fails with every reason when no checkpoint is usable', async () => {
    const { call, dataDir, store, transactions } = await twoCheckpoints();
    for (const id of [1, 2]) writeFileSync(store.resolve(store.snapshotRef(id, task, 'w1-i1', 7)), 'truncated');
    await expect(
      restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions(0) as unknown as TaskTransactions, logger: silent, call }),
    ).rejects.toThrow(/no usable checkpoint at or below 2 .*checkpoint 2: .*checkpoint 1: /);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';
import { ActorThreads } from '../../worker/actor-threads.ts';
import { EOS_TOPICS } from '../../worker/jobs/eos-check.ts';
import { restoreTask } from '../../worker/task-restore.ts';
import type { TaskTransactions } from '../../worker/task-transactions.ts';
import type { BufferedOutput, SnapshotResult, ThreadRequest, ThreadResponse } from '../../worker/thread-protocol.ts';
import { record, tempDir } from './task-harness.ts';

/** The Kafka side of a task, faked: records what would be published and answers the marker. */
class FakeTransactions {
  fenced = 0;
  published: { checkpointId: number; outputs: readonly BufferedOutput[] }[] = [];
  constructor(public marker: number) {}
  fence(): Promise<void> {
    this.fenced += 1;
    return Promise.resolve();
  }
  lastPublished(): Promise<number> {
    return Promise.resolve(this.marker);
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
  await call({ type: 'open', task, dataDir, restore: null });
  const take = async (checkpointId: number) => {
    const { port1, port2 } = new MessageChannel();
    const done = once(port1, 'message');
    const snapshot = store.snapshotRef(checkpointId, task);
    const taken = await call<'barrier-taken'>({ type: 'barrier', task, checkpointId, snapshotPath: store.resolve(snapshot), done: port2 });
    const [result] = (await done) as [SnapshotResult];
    port1.close();
    expect(result.type).toBe('snapshot-written');
    await store.writeManifest({ format: 1, job: 'eos-check', checkpointId, triggeredAtMs: 0, completedAtMs: 0, tasks: [{ task, snapshot, bytes: 0, records: 0, offsets: taken.offsets }] });
  };
  await call({ type: 'records', task, records: [input(0, 'a', 1), input(1, 'a', 2)], nowMs: 0 });
  await take(1);
  await call({ type: 'records', task, records: [input(2, 'a', 3), input(3, 'b', 1), input(4, 'a', 4)], nowMs: 0 });
  await take(2);
  await call({ type: 'close', task });
  return { call, dataDir, store };
}

describe('restoring a task (worker/task-restore.ts)', () => {
  it('fences, restores the named checkpoint and publishes what it holds beyond the marker', async () => {
    const { call, dataDir, store } = await twoCheckpoints();
    const transactions = new FakeTransactions(1);
    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger: createLogger('test', 'silent'), call });
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
    const { call, dataDir, store } = await twoCheckpoints();
    const corrupt = store.resolve(store.snapshotRef(2, task));
    const bytes = readFileSync(corrupt);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff; // one flipped byte inside a block
    writeFileSync(corrupt, bytes);
    const errors: string[] = [];
    const logger = createLogger('test', 'silent');
    logger.error = ((obj: { err?: string }) => errors.push(obj.err ?? ''));
    const transactions = new FakeTransactions(0);

    const restored = await restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: transactions as unknown as TaskTransactions, logger, call });

    expect(restored.restoredFrom).toBe(1);
    expect(restored.offsets).toEqual({ [EOS_TOPICS.input]: '2' });
    expect(errors.some((e) => e.includes(corrupt))).toBe(true);
    expect(transactions.published.map((p) => [p.checkpointId, p.outputs.length])).toEqual([[1, 2]]);
  });

  it('fails with every reason when no checkpoint is usable', async () => {
    const { call, dataDir, store } = await twoCheckpoints();
    for (const id of [1, 2]) writeFileSync(store.resolve(store.snapshotRef(id, task)), 'truncated');
    await expect(
      restoreTask({ task, restoreFrom: 2, dataDir, checkpoints: store, transactions: new FakeTransactions(0) as unknown as TaskTransactions, logger: createLogger('test', 'silent'), call }),
    ).rejects.toThrow(/no usable checkpoint at or below 2 .*checkpoint 2: .*checkpoint 1: /);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';
import { ActorThreads } from '../../worker/actor-threads.ts';
import type { CheckpointReport } from '../../worker/checkpoint-report.ts';
import { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import type { KafkaSinks } from '../../worker/kafka-sinks.ts';
import type { KafkaSource } from '../../worker/kafka-source.ts';
import type { Marker } from '../../worker/marker-reader.ts';
import { createWorkerMetrics } from '../../worker/metrics.ts';
import { PublishLane } from '../../worker/publish-lane.ts';
import { TaskRunner } from '../../worker/task-runner.ts';
import type { BufferedOutput, OutputRecord, SnapshotResult, ThreadRequest, ThreadResponse } from '../../worker/thread-protocol.ts';
import { record, tempDir, waitFor } from './task-harness.ts';

/**
 * The replay after a fallback past a corrupt snapshot whose outputs were published, on a real
 * actor thread: the restored task must reach the published checkpoint's offsets without
 * publishing anything again, decline barriers meanwhile, and then go on with the right counts.
 * Kafka is faked here (the nemesis's corrupt-snapshot fault runs the same path for real).
 */
const threads: ActorThreads[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

const task = 2;
const input = (offset: number, key: string, seq: number) => record(EOS_TOPICS.input, offset, { key, seq }, { partition: task, keyText: key });

class FakeTransactions {
  published: { checkpointId: number; outputs: readonly BufferedOutput[] }[] = [];
  constructor(private readonly marker: Marker) {}
  fence = (): Promise<void> => Promise.resolve();
  lastPublished = (): Promise<Marker> => Promise.resolve(this.marker);
  /** The job's task count as the manifests here say: they hold this one task. */
  taskCount = (): Promise<number> => Promise.resolve(1);
  publish(checkpointId: number, outputs: readonly BufferedOutput[]): Promise<void> {
    this.published.push({ checkpointId, outputs });
    return Promise.resolve();
  }
  close = (): Promise<void> => Promise.resolve();
}

const fakeSource = { open: () => Promise.resolve(), close: () => undefined, throttle: () => undefined, unthrottle: () => undefined } as unknown as KafkaSource;

describe('TaskRunner: replay after a fallback past a published checkpoint', () => {
  it('replays to the published offsets without publishing, declines barriers meanwhile, then continues with the right counts', async () => {
    const pool = new ActorThreads(1, { jobRef: 'eos-check' });
    threads.push(pool);
    const call = async (request: ThreadRequest) => pool.run(task, request, request.type === 'barrier' ? [request.done] : undefined);
    const store = new CheckpointStore(await tempDir());
    const { storeId } = await store.identity('eos-check');
    // Checkpoint 1 after offsets 0-1, checkpoint 2 after 2-4, written by an earlier owner.
    const earlier = await tempDir();
    await call({ type: 'open', task, dataDir: earlier, restore: null });
    const take = async (checkpointId: number): Promise<string> => {
      const { port1, port2 } = new MessageChannel();
      const done = once(port1, 'message');
      const snapshot = store.snapshotRef(checkpointId, task, 'old-1', 3);
      const taken = (await call({ type: 'barrier', task, checkpointId, target: { root: store.root, ref: snapshot }, done: port2 })) as Extract<ThreadResponse, { type: 'barrier-taken' }>;
      const [result] = (await done) as [SnapshotResult];
      if (result.type !== 'snapshot-written') throw new Error(`snapshot failed: ${result.reason}`);
      port1.close();
      const chain = result.chain;
      await store.writeManifest({ format: 3, job: 'eos-check', checkpointId, triggeredAtMs: 0, completedAtMs: 0, tasks: [{ task, owner: 'old', generation: 3, snapshot, bytes: 0, records: 0, offsets: taken.offsets, chain }] });
      return store.resolve(snapshot);
    };
    await call({ type: 'records', task, records: [input(0, 'a', 1), input(1, 'a', 2)], nowMs: 0 });
    await take(1);
    await call({ type: 'records', task, records: [input(2, 'a', 3), input(3, 'b', 1), input(4, 'a', 4)], nowMs: 0 });
    const newest = await take(2);
    await call({ type: 'close', task });
    const bytes = readFileSync(newest);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0xff; // corrupted after its ack
    writeFileSync(newest, bytes);

    // The earlier owner published checkpoint 2: the marker says so.
    const transactions = new FakeTransactions({ checkpointId: 2, store: storeId });
    const atLeastOnce: OutputRecord[] = [];
    const reports: CheckpointReport[] = [];
    const runner = new TaskRunner(task, 9, {
      owner: 'new-1', threads: pool, source: fakeSource, sinks: { publish: (o: OutputRecord[]) => Promise.resolve(void atLeastOnce.push(...o)) } as unknown as KafkaSinks,
      transactions: transactions, checkpoints: store, dataDir: await tempDir(),
      limits: { queueRecordsMax: 1_000, batchRecordsMax: 2, tickIntervalMs: 60_000, pendingOutputsMax: 1_000 },
      metrics: createWorkerMetrics('w'), clock: () => 0, logger: createLogger('test', 'silent'),
      onFailed: (_t, reason) => reports.push({ kind: 'declined', task, generation: 0, checkpointId: 0, reason: 'BARRIER_FAILED', detail: reason }),
      onCheckpoint: (report) => reports.push(report), publishLane: new PublishLane(),
    });
    await runner.start(2);
    expect(runner.replaying).toBe(true);
    expect(runner.barrier(3)).toBe(false); // no checkpoint may hold a replay's outputs
    expect(transactions.published).toEqual([]);

    runner.enqueue([input(2, 'a', 3), input(3, 'b', 1), input(4, 'a', 4), input(5, 'b', 2), input(6, 'a', 5)]);
    await waitFor(() => !runner.replaying && runner.queueDepth === 0);
    expect(runner.barrier(4)).toBe(true);
    await waitFor(() => reports.some((r) => r.kind === 'ack' && r.checkpointId === 4));
    runner.commit(4);
    await waitFor(() => transactions.published.length === 1);
    const values = transactions.published[0]?.outputs.map((o) => ('output' in o ? o.output.value : null));
    // Only what followed checkpoint 2's offsets, counted on top of the replayed state.
    expect(values).toEqual(['{"key":"b","seq":2,"count":2}', '{"key":"a","seq":5,"count":5}']);
    // Of the epoch after the published checkpoint (2), not after the one restored (1): a later
    // restore that publishes a buffer's epochs above the marker keeps them (the nemesis lost such outputs once).
    expect(transactions.published[0]?.outputs.map((o) => o.epoch)).toEqual([3, 3]);
    expect(reports.filter((r) => r.kind === 'declined')).toEqual([]);
    await runner.stop();
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';
import { ActorThreads } from '../../worker/actor-threads.ts';
import type { CheckpointReport } from '../../worker/checkpoint-report.ts';
import { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import type { KafkaSinks } from '../../worker/kafka-sinks.ts';
import type { KafkaSource } from '../../worker/kafka-source.ts';
import { createWorkerMetrics } from '../../worker/metrics.ts';
import { PublishLane } from '../../worker/publish-lane.ts';
import { TaskRunner } from '../../worker/task-runner.ts';
import type { BufferedOutput } from '../../worker/thread-protocol.ts';
import { record, tempDir, waitFor } from './task-harness.ts';

/**
 * Backpressure on a real actor thread (Kafka faked): a task whose exactly-once outputs wait for
 * a checkpoint stops fetching at `pendingOutputsMax`, and fetches again once the checkpoint is
 * published, with no new record to prompt it (a stalled load of the state benchmark: the task
 * stayed paused for good, because only a processed batch re-checked the limit).
 */
const threads: ActorThreads[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

const task = 0;
const input = (offset: number, key: string) => record(EOS_TOPICS.input, offset, { key, seq: 1 }, { partition: task, keyText: key });

describe('TaskRunner: fetching paused on pending outputs', () => {
  it('resumes once the checkpoint holding them is published, without another record arriving', async () => {
    const pool = new ActorThreads(1, { jobRef: 'eos-check' });
    threads.push(pool);
    const store = new CheckpointStore(await tempDir());
    await store.identity('eos-check');
    let throttled = false;
    const source = { open: () => Promise.resolve(), close: () => undefined, throttle: () => void (throttled = true), unthrottle: () => void (throttled = false) } as unknown as KafkaSource;
    const published: number[] = [];
    const transactions = {
      fence: () => Promise.resolve(),
      lastPublished: () => Promise.resolve(undefined),
      taskCount: () => Promise.resolve(1),
      publish: (checkpointId: number, _outputs: readonly BufferedOutput[]) => Promise.resolve(void published.push(checkpointId)),
      close: () => Promise.resolve(),
    };
    const reports: CheckpointReport[] = [];
    const runner = new TaskRunner(task, 1, {
      owner: 'w-1', threads: pool, source, sinks: { publish: () => Promise.resolve() } as unknown as KafkaSinks,
      transactions, checkpoints: store, dataDir: await tempDir(),
      limits: { queueRecordsMax: 1_000, batchRecordsMax: 100, tickIntervalMs: 20, pendingOutputsMax: 3 },
      metrics: createWorkerMetrics('w'), clock: Date.now, logger: createLogger('test', 'silent'),
      onFailed: (_t, reason) => { throw new Error(reason); },
      onCheckpoint: (report) => reports.push(report), publishLane: new PublishLane(),
    });
    await runner.start(0);

    runner.enqueue([input(0, 'a'), input(1, 'b'), input(2, 'c'), input(3, 'd')]);
    await waitFor(() => runner.queueDepth === 0 && throttled);
    expect(runner.barrier(1)).toBe(true);
    await waitFor(() => reports.some((r) => r.kind === 'ack' && r.checkpointId === 1));
    expect(throttled).toBe(true);
    runner.commit(1);
    await waitFor(() => published.includes(1));

    await waitFor(() => !throttled, 2_000);
    await runner.stop();
  });
});

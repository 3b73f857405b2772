/**
 * A job restarted with more source partitions than its newest checkpoint has tasks: before the
 * first assignment, the coordinator re-shards that checkpoint into a new one with a task per
 * partition (state/rescale.ts), which every task then restores as usual.
 *
 * Records an old partition holds after the checkpoint's offsets are checked first. One whose key
 * the new partition count puts in that same partition is fine: its key's state will be in that
 * task (producers that know the new count write such records). One whose key now belongs to
 * another partition was written under the old count, and would be read by a task that no longer
 * has its key's state: the rescale is refused, naming the record. Rescaling therefore starts
 * from a job that has read everything written under the old count: stop the producers, let Eddy
 * catch up and complete a checkpoint, stop it, add the partitions, resume the producers and start
 * Eddy again (in either order).
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { RescaleRefusedError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { keyPartitioner } from '../common/partitioner.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import { sourceTopics } from '../job/topics.ts';
import type { CheckpointManifest, CheckpointStore } from '../state/checkpoint-store.ts';
import { rescaleCheckpoint } from '../state/rescale.ts';
import { readCommittedRange } from '../worker/partition-range-reader.ts';

export interface RescaleOnStartOptions {
  kafka: Kafka;
  job: JobDefinition;
  store: CheckpointStore;
  /** The job's task count now: its sources' partition count. */
  taskCount: number;
  logger: Logger;
}

/** How long reading one partition's tail may take before the rescale is refused. */
const tailReadTimeoutMs = 30_000;

/**
 * Re-shards the newest complete checkpoint when its task count differs from the job's; returns
 * the new checkpoint's id, or undefined when nothing needed doing.
 * @throws RescaleRefusedError when the checkpoint cannot be re-sharded without losing or misplacing records
 */
export async function rescaleOnStart(options: RescaleOnStartOptions): Promise<number | undefined> {
  const { store, taskCount, job, logger } = options;
  const [latest] = await store.completed();
  if (latest === undefined) return undefined;
  const from = await store.readManifest(latest);
  if (from.tasks.length === taskCount) return undefined;
  const broadcast = Object.entries(job.sources).filter(([, s]) => s.broadcast === true).map(([name]) => name);
  if (broadcast.length > 0) {
    throw new RescaleRefusedError(`job '${job.name}': checkpoint ${latest} has ${from.tasks.length} tasks and the sources now have ${taskCount} partitions, but the job reads broadcast topics (${broadcast.join(', ')}), whose state every task holds a copy of: rescaling such a job is not supported`);
  }
  logger.warn({ checkpoint: latest, from: from.tasks.length, to: taskCount }, 'the job\'s sources have a new partition count: re-sharding the newest checkpoint');
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    await refuseUnreadTails(options.kafka, admin, sourceTopics(job), from, taskCount);
  } finally {
    await admin.disconnect();
  }
  const checkpointId = (await store.highestId()) + 1;
  const started = Date.now();
  const manifest = await rescaleCheckpoint({ store, from, taskCount, checkpointId, workDir: join(tmpdir(), `eddy-rescale-${randomUUID()}`), logger });
  logger.warn(
    { from: latest, to: checkpointId, tasks: taskCount, records: manifest.tasks.reduce((sum, t) => sum + t.records, 0), ms: Date.now() - started },
    'rescaled: the new checkpoint holds every key\'s state in the task of its new partition',
  );
  return checkpointId;
}

/** Refuses when an old partition has a committed record, after the checkpoint's offset, whose key now belongs to another partition. */
async function refuseUnreadTails(kafka: Kafka, admin: Admin, topics: string[], from: CheckpointManifest, taskCount: number): Promise<void> {
  const partitionOf = keyPartitioner('', taskCount);
  for (const topic of topics) {
    const partitions = await admin.fetchTopicOffsets(topic);
    for (const entry of from.tasks) {
      const high = Number(partitions.find((p) => p.partition === entry.task)?.high ?? 0);
      const start = Number(entry.offsets[topic] ?? 0);
      if (start >= high) continue;
      let misplaced: { offset: string; key: string; partition: number | undefined } | undefined;
      const reached = await readCommittedRange(kafka, admin, { topic, partition: entry.task, start, high, timeoutMs: tailReadTimeoutMs }, (message) => {
        const partition = message.key === null ? undefined : partitionOf(message.key);
        if (partition === entry.task) return false;
        misplaced = { offset: message.offset, key: message.key === null ? 'null' : JSON.stringify(message.key.toString()), partition };
        return true;
      });
      const where = `partition ${entry.task} of ${topic}`;
      if (!reached) {
        throw new RescaleRefusedError(`cannot rescale checkpoint ${from.checkpointId}: reading ${where} from offset ${start} did not reach its end (${high}) within ${tailReadTimeoutMs} ms; a transaction may still be open there`);
      }
      if (misplaced !== undefined) {
        const belongs = misplaced.partition === undefined ? 'has no key, so the task its state belongs to cannot be told' : `now belongs to partition ${misplaced.partition}`;
        throw new RescaleRefusedError(
          `cannot rescale checkpoint ${from.checkpointId}: ${where} has records the job has not processed, written when the sources had ${from.tasks.length} partitions: ` +
            `the record at offset ${misplaced.offset} has key ${misplaced.key}, which ${belongs}; its key's state would move away and the record would be counted without it. ` +
            'Rescale a drained job: stop the producers, let Eddy catch up and complete a checkpoint, stop it, add the partitions, then resume the producers and start Eddy ' +
            '(`eddy reset` starts the job over instead)',
        );
      }
    }
  }
}

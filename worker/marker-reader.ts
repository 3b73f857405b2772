/**
 * Reads the newest committed marker record of one task from the job's commits topic
 * (read_committed). Called after the task's transactional id was fenced, so no transaction of
 * that task is open and the partition's last stable offset is its end: the read starts a little
 * before the end and is done once the consumer's position reaches the last offset, whether the
 * tail holds data records or only transaction markers and aborted records (kafkajs reports those
 * batches as processed-but-empty, which counts as reaching them). kafkajs cannot read without
 * a consumer group, so each read uses a throw-away group and deletes it afterwards.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { allPartitionsAssigner } from './all-partitions-assigner.ts';

/** Offsets before the end where reading starts; a marker costs 2 (record + commit marker). */
const tailOffsets = 64;
const readTimeoutMs = 10_000;

/** A marker record: task `task` published the outputs of checkpoints up to `checkpointId`, from checkpoint store `store`. */
export interface Marker {
  checkpointId: number;
  /** The id of the checkpoint store whose checkpoint this is; absent in markers of Eddy before stores had ids. */
  store: string | undefined;
}

export async function readLastMarker(kafka: Kafka, admin: Admin, topic: string, task: number): Promise<Marker | undefined> {
  const partition = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === task);
  const high = Number(partition?.high ?? 0);
  const low = Number(partition?.low ?? 0);
  if (high <= low) return undefined;
  const tail = await readFrom(kafka, admin, topic, task, Math.max(low, high - tailOffsets), high);
  if (tail !== undefined || high - tailOffsets <= low) return tail;
  // Only transaction markers or aborted records near the end: read the whole (compacted) partition.
  return readFrom(kafka, admin, topic, task, low, high);
}

/** The last data record in [start, high), or undefined if there is none. */
async function readFrom(kafka: Kafka, admin: Admin, topic: string, task: number, start: number, high: number): Promise<Marker | undefined> {
  const groupId = `${topic}.reader.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, partitionAssigners: [allPartitionsAssigner], readUncommitted: false, maxWaitTimeInMs: 50 });
  let last: { offset: number; marker: Marker } | undefined;
  let reachedEnd = false;
  const reached = (partition: number, lastOffset: string): void => {
    if (partition === task && Number(lastOffset) >= high - 1) reachedEnd = true;
  };
  // Batches of only control or aborted records never reach eachBatch, but do end as processed.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise<Record<string, number[]>>((resolve) => {
      const remove = consumer.on(consumer.events.GROUP_JOIN, (event) => {
        remove();
        resolve(event.payload.memberAssignment);
      });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        if (batch.partition !== task) return Promise.resolve();
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          if (last === undefined || offset > last.offset) last = { offset, marker: parseMarker(m.value) };
        }
        return Promise.resolve();
      },
    });
    const others = (await joined)[topic]?.filter((p) => p !== task) ?? [];
    if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    consumer.seek({ topic, partition: task, offset: String(start) });
    const deadline = Date.now() + readTimeoutMs;
    while (!reachedEnd && Date.now() < deadline) await sleep(20);
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  if (!reachedEnd) throw new Error(`reading the commit markers of task ${task} in ${topic} did not reach offset ${high - 1} within ${readTimeoutMs} ms`);
  return last?.marker;
}

function parseMarker(value: Buffer | null): Marker {
  const parsed = JSON.parse(value?.toString() ?? '{}') as { checkpointId?: number; store?: string };
  return { checkpointId: parsed.checkpointId ?? 0, store: parsed.store };
}

/**
 * Reads the newest committed marker record of one task from the job's commits topic
 * (read_committed). Called after the task's transactional id was fenced, so no transaction of
 * that task is open and the partition's last stable offset is its end: the read starts a little
 * before the end and is done once a fetched batch reaches the last offset.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { allPartitionsAssigner } from './all-partitions-assigner.ts';

/** Offsets before the end where reading starts; a marker costs 2 (record + commit marker). */
const tailOffsets = 64;
const readTimeoutMs = 10_000;

export async function readLastMarker(kafka: Kafka, admin: Admin, topic: string, task: number): Promise<number> {
  const partition = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === task);
  const high = Number(partition?.high ?? 0);
  const low = Number(partition?.low ?? 0);
  if (high <= low) return 0;
  const tail = await readFrom(kafka, topic, task, Math.max(low, high - tailOffsets), high);
  if (tail !== undefined) return tail;
  // Only control records or aborted ones near the end: read the whole (compacted) partition.
  return (await readFrom(kafka, topic, task, low, high)) ?? 0;
}

/** The checkpoint id of the last data record in [start, high), or undefined if there is none. */
async function readFrom(kafka: Kafka, topic: string, task: number, start: number, high: number): Promise<number | undefined> {
  const consumer = kafka.consumer({ groupId: `${topic}.reader.${randomUUID()}`, partitionAssigners: [allPartitionsAssigner], readUncommitted: false, maxWaitTimeInMs: 50 });
  let last: { offset: number; checkpointId: number } | undefined;
  let reachedEnd = false;
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
          if (last === undefined || offset > last.offset) last = { offset, checkpointId: (JSON.parse(m.value?.toString() ?? '{}') as { checkpointId?: number }).checkpointId ?? 0 };
        }
        if (Number(batch.lastOffset()) >= high - 1) reachedEnd = true;
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
  }
  if (reachedEnd) return last?.checkpointId ?? 0;
  if (last === undefined) return undefined;
  throw new Error(`reading the commit markers of task ${task} in ${topic} did not reach offset ${high - 1} within ${readTimeoutMs} ms`);
}

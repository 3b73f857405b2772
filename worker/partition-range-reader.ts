/**
 * Reads the committed data records in one partition's offset range [start, high), as a
 * read_committed consumer sees them. The range is done once the consumer's position reaches
 * `high - 1`, whether the last offsets hold data records or only transaction markers and
 * aborted records (kafkajs reports those batches as processed-but-empty, which counts as
 * reaching them). kafkajs cannot read without a consumer group, so each read uses a throw-away
 * group, with every partition assigned to it and all but the one read paused, and deletes it
 * afterwards.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { allPartitionsAssigner } from './all-partitions-assigner.ts';

export interface PartitionRange {
  topic: string;
  partition: number;
  start: number;
  /** The partition's end: reading stops once offset high - 1 is reached. */
  high: number;
  timeoutMs: number;
}

/**
 * Calls `onMessage` with each data record of the range in offset order, until the range's end
 * or until `onMessage` returns true. Returns true if it got there (the end, or a record it
 * stopped at), false if `timeoutMs` passed first (a transaction still open in the range holds
 * a read_committed reader back).
 */
export async function readCommittedRange(kafka: Kafka, admin: Admin, range: PartitionRange, onMessage: (message: KafkaMessage) => boolean): Promise<boolean> {
  const { topic, partition, start, high } = range;
  if (start >= high) return true;
  const groupId = `${topic}.reader.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, partitionAssigners: [allPartitionsAssigner], readUncommitted: false, maxWaitTimeInMs: 50 });
  let done = false;
  // Batches of only control or aborted records never reach eachBatch, but do end as processed.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.partition === partition && Number(payload.lastOffset) >= high - 1) done = true;
  });
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
        if (batch.partition !== partition || done) return Promise.resolve();
        for (const message of batch.messages) {
          if (Number(message.offset) >= high) break;
          if (onMessage(message)) {
            done = true;
            break;
          }
        }
        return Promise.resolve();
      },
    });
    const others = (await joined)[topic]?.filter((p) => p !== partition) ?? [];
    if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    consumer.seek({ topic, partition, offset: String(start) });
    const deadline = Date.now() + range.timeoutMs;
    while (!done && Date.now() < deadline) await sleep(20);
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return done;
}

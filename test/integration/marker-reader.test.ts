import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { readLastMarker } from '../../worker/marker-reader.ts';
import { connectedAdmin, createTopic, testKafka, uniqueName } from './support.ts';

/**
 * The commit-marker reader against real Kafka: it must find the newest committed marker even
 * when the partition's tail is nothing but transaction markers and aborted records (it used to
 * wait out its 10 s timeout there), and it must not leave a consumer group behind per read.
 */
describe('real Kafka: reading a task\'s last commit marker', () => {
  const kafka = testKafka();
  const admin = connectedAdmin(kafka);

  const marker = (checkpointId: number) => ({ key: 'job/1', partition: 1, value: JSON.stringify({ checkpointId, store: 's-1' }) });

  /**
   * A new 2-partition commits topic, written by `write` through a transactional producer, then
   * fenced as a restore fences before it reads: a new producer of the same transactional id. A
   * commit returns before its transaction markers are on the partitions; the fence waits for
   * them (read at once, the last committed record was sometimes not yet readable: seen in CI).
   */
  const commitsTopic = async (write: (producer: Producer, topic: string) => Promise<void>): Promise<string> => {
    const topic = uniqueName('eddy-test-commits');
    await createTopic(kafka, topic, 2);
    const transactionalId = uniqueName('eddy-test-marker');
    const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await write(producer, topic);
    } finally {
      await producer.disconnect();
    }
    const fence = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await fence.connect(); // as TaskTransactions.fence: a new producer id, then an empty transaction aborted
    await (await fence.transaction()).abort();
    await fence.disconnect();
    return topic;
  };

  it('finds the newest committed marker behind a tail of aborted transactions, leaving no group behind', async () => {
    const topic = await commitsTopic(async (producer, topic) => {
      for (const id of [3, 4]) {
        const tx = await producer.transaction();
        await tx.send({ topic, messages: [marker(id)] });
        await tx.commit();
      }
      // 40 aborted transactions: 80 offsets of aborted records and abort markers, more than the reader's 64-offset tail.
      for (let i = 0; i < 40; i++) {
        const tx = await producer.transaction();
        await tx.send({ topic, messages: [marker(100 + i)] });
        await tx.abort();
      }
    });
    const groupsBefore = (await admin().listGroups()).groups.filter((g) => g.groupId.startsWith(topic)).length;
    // (Before the fix this waited out the reader's 10 s timeout twice and then threw.)
    await expect(readLastMarker(kafka, admin(), topic, 1)).resolves.toEqual({ checkpointId: 4, store: 's-1' });
    // Partition 0 was never written: no marker.
    await expect(readLastMarker(kafka, admin(), topic, 0)).resolves.toBeUndefined();
    const groupsAfter = (await admin().listGroups()).groups.filter((g) => g.groupId.startsWith(topic)).length;
    expect(groupsAfter).toBe(groupsBefore);
  });

  it('reads to the end when the tail is only the commit marker of the newest transaction', async () => {
    const topic = await commitsTopic(async (producer, topic) => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [marker(7)] });
      await tx.commit();
    });
    await expect(readLastMarker(kafka, admin(), topic, 1)).resolves.toEqual({ checkpointId: 7, store: 's-1' });
  });
});

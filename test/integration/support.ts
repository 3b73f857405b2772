/** Helpers shared by the integration tests: unique names, clients, and bounded reads. */
import { randomUUID } from 'node:crypto';
import type { Consumer, EachMessagePayload, Kafka, KafkaMessage } from 'kafkajs';
import { inject } from 'vitest';
import { createKafka } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';

/** A name no other test (or earlier run) uses, so tests can run in any order. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(clientId = uniqueName('eddy-test')): Kafka {
  return createKafka(inject('brokers'), clientId, createLogger('test', process.env.EDDY_LOG_LEVEL ?? 'error'));
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export interface ReadOptions {
  topics: string[];
  /** Stop once this many records arrived. */
  count: number;
  /** Fail if `count` records have not arrived by then. */
  timeoutMs: number;
  readUncommitted?: boolean;
  /** Keep reading this long after `count` is reached, to catch records that should not be there. */
  settleMs?: number;
}

export type ReadRecord = { topic: string; partition: number } & Pick<KafkaMessage, 'key' | 'value' | 'offset' | 'headers'>;

/** Reads from the beginning with a fresh group until `count` records arrived, then disconnects. */
export async function readRecords(kafka: Kafka, options: ReadOptions): Promise<ReadRecord[]> {
  const consumer: Consumer = kafka.consumer({
    groupId: uniqueName('eddy-test-reader'),
    readUncommitted: options.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: true });
    let reached: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (reached = resolve));
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ topic, partition, message }: EachMessagePayload) => {
        records.push({ topic, partition, key: message.key, value: message.value, offset: message.offset, headers: message.headers });
        if (records.length >= options.count) reached();
        return Promise.resolve();
      },
    });
    await Promise.race([enough, timeout(options.timeoutMs, () => `read ${records.length} of ${options.count} records from ${options.topics.join(',')}`)]);
    if (options.settleMs !== undefined) await new Promise((r) => setTimeout(r, options.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function timeout(ms: number, describe: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${describe()}`)), ms).unref());
}

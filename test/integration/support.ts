/** Helpers shared by the integration tests: unique names, clients, and bounded reads. */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, inject } from 'vitest';
import { createKafka, createTopicsReady } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';

/** A name no other test (or earlier run) uses, so tests can run in any order. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(clientId = uniqueName('eddy-test')): Kafka {
  return createKafka(inject('brokers'), clientId, createLogger('test', process.env.EDDY_LOG_LEVEL ?? 'error'));
}

/** An admin client of `kafka`, connected before the file's tests and disconnected after them. */
export function connectedAdmin(kafka: Kafka): () => Admin {
  let admin: Admin | undefined;
  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });
  return () => {
    if (admin === undefined) throw new Error('connectedAdmin: used outside a test');
    return admin;
  };
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions = 3): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, [{ topic, numPartitions, replicationFactor: 1 }]);
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
  return readUntil(kafka, { ...options, done: (records) => records.length >= options.count, describe: (records) => `read ${records.length} of ${options.count} records` });
}

/** Reads from the beginning with a fresh group until `done` holds for what arrived so far. */
export async function readUntil(
  kafka: Kafka,
  options: {
    topics: string[];
    timeoutMs: number;
    readUncommitted?: boolean;
    settleMs?: number;
    done: (records: ReadRecord[]) => boolean;
    describe?: (records: ReadRecord[]) => string;
    /** On timeout, return what arrived instead of failing (for a test to compare and show the difference). */
    partialOnTimeout?: boolean;
  },
): Promise<ReadRecord[]> {
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
      eachBatch: ({ batch }) => {
        for (const message of batch.messages) {
          records.push({ topic: batch.topic, partition: batch.partition, key: message.key, value: message.value, offset: message.offset, headers: message.headers });
        }
        if (options.done(records)) reached();
        return Promise.resolve();
      },
    });
    const describe = (): string => `${options.describe?.(records) ?? `condition not met after ${records.length} records`} from ${options.topics.join(',')}`;
    const limit = options.partialOnTimeout === true ? sleepMs(options.timeoutMs) : timeout(options.timeoutMs, describe);
    await Promise.race([enough, limit]);
    if (options.settleMs !== undefined) await new Promise((r) => setTimeout(r, options.settleMs));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function timeout(ms: number, describe: () => string): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${describe()}`)), ms).unref());
}

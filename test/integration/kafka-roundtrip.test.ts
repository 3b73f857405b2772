import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createTopic, readRecords, testKafka, uniqueName } from './support.ts';

describe('real Kafka: produce and consume', () => {
  const kafka = testKafka();
  const topic = uniqueName('eddy-test-roundtrip');
  let producer: Producer;

  beforeAll(async () => {
    await createTopic(kafka, topic, 3);
    producer = kafka.producer({ idempotent: true });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  it('reads back every record, in order within each key', async () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const messages = Array.from({ length: 500 }, (_, i) => ({ key: keys[i % keys.length] as string, value: String(i) }));
    await producer.send({ topic, acks: -1, messages });

    const records = await readRecords(kafka, { topics: [topic], count: messages.length, timeoutMs: 30_000, settleMs: 500 });

    expect(records).toHaveLength(messages.length);
    for (const key of keys) {
      const sent = messages.filter((m) => m.key === key).map((m) => m.value);
      const read = records.filter((r) => r.key?.toString() === key).map((r) => r.value?.toString());
      expect(read).toEqual(sent);
      // One key always lands on one partition.
      expect(new Set(records.filter((r) => r.key?.toString() === key).map((r) => r.partition)).size).toBe(1);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { createTopic, readRecords, testKafka, uniqueName } from './support.ts';

describe('real Kafka: transactions', () => {
  const kafka = testKafka();
  const topic = uniqueName('eddy-test-tx');
  let producer: Producer;

  beforeAll(async () => {
    await createTopic(kafka, topic, 2);
    producer = kafka.producer({ transactionalId: uniqueName('eddy-test-txid'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });

  it('hides an aborted transaction from read_committed readers and shows a committed one', async () => {
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'k1', value: 'aborted-1' }, { key: 'k2', value: 'aborted-2' }] });
    await aborted.abort();

    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'k1', value: 'committed-1' }, { key: 'k2', value: 'committed-2' }] });
    await committed.commit();

    // read_uncommitted sees all four: proves the aborted records really reached the log.
    const everything = await readRecords(kafka, { topics: [topic], count: 4, timeoutMs: 30_000, readUncommitted: true });
    expect(everything.map((r) => r.value?.toString()).sort()).toEqual(['aborted-1', 'aborted-2', 'committed-1', 'committed-2']);

    const visible = await readRecords(kafka, { topics: [topic], count: 2, timeoutMs: 30_000, settleMs: 1_000 });
    expect(visible.map((r) => r.value?.toString()).sort()).toEqual(['committed-1', 'committed-2']);
  });

  it('keeps an open transaction invisible until it commits', async () => {
    const openTopic = uniqueName('eddy-test-tx-open');
    await createTopic(kafka, openTopic, 1);
    const tx = await producer.transaction();
    await tx.send({ topic: openTopic, messages: [{ key: 'k', value: 'pending' }] });

    await expect(readRecords(kafka, { topics: [openTopic], count: 1, timeoutMs: 2_000 })).rejects.toThrow(/timed out/);

    await tx.commit();
    const visible = await readRecords(kafka, { topics: [openTopic], count: 1, timeoutMs: 30_000 });
    expect(visible.map((r) => r.value?.toString())).toEqual(['pending']);
  });
});

// Rescaling with state on real Kafka: eos-check runs on a 3-partition input and stops; the input
// gets 5 partitions; the restarted cluster re-shards every key's count into the task of its new
// partition, and an independent reader finds every key's counts running 1..n with nothing lost,
// doubled or wrong. Records written under the old count and left unprocessed make it refuse.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkpointStoreFor } from '../../state/checkpoint-store.ts';
import { allKeysReached, checkEosOutput, eosTopics, produceSeqs, producerFor, startEosCluster, type EosTopics } from './eos-harness.ts';
import { createTopic, readUntil, testKafka } from './support.ts';

const kafka = testKafka();

async function addPartitions(topic: string, count: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
  } finally {
    await admin.disconnect();
  }
}

/** Sends seq from..to for every key with a producer that has just learnt the topic's partitions. */
async function produce(topics: EosTopics, keys: string[], from: number, to: number): Promise<number> {
  const producer = producerFor(kafka);
  await producer.connect();
  try {
    return await produceSeqs(producer, topics.input, keys, from, to);
  } finally {
    await producer.disconnect();
  }
}

/** Runs a cluster in `dir` until every key's output reached seq `n`, then stops it. */
async function runUntil(topics: EosTopics, dir: string, keys: string[], n: number): Promise<void> {
  const cluster = await startEosCluster(topics, 2, dir);
  try {
    await readUntil(kafka, { topics: [topics.output], timeoutMs: 90_000, done: (r) => allKeysReached(r, keys, n) });
  } finally {
    await cluster.stop();
  }
}

/** The file's text once it contains `text` (a child's last lines reach its log a moment after it exits), or after 5 s. */
async function logOnceItHas(path: string, text: string): Promise<string> {
  for (const deadline = Date.now() + 5_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const log = readFileSync(path, 'utf8');
    if (log.includes(text) || Date.now() > deadline) return log;
  }
}

describe('rescale: a job restarted with more source partitions (real Kafka, eos-check)', () => {
  it('re-shards every key\'s state to the task of its new partition, losing and doubling nothing', async () => {
    const topics = eosTopics();
    await createTopic(kafka, topics.input, 3);
    const dir = mkdtempSync(join(tmpdir(), 'eddy-rescale-'));
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);

    await produce(topics, keys, 1, 10);
    await runUntil(topics, dir, keys, 10);
    await addPartitions(topics.input, 5);
    const produced = await produce(topics, keys, 11, 20);
    await runUntil(topics, dir, keys, 20);

    const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 30_000, settleMs: 1_000, done: (r) => r.length >= keys.length * 20 });
    expect(checkEosOutput(outputs, keys, 20)).toEqual({ outputs: keys.length * 20, lost: 0, duplicated: 0, wrongCounts: 0 });
    expect(produced).toBe(keys.length * 10);
    const store = checkpointStoreFor(join(dir, 'checkpoints'), `eos-check.${topics.prefix}`);
    const newest = await store.readManifest((await store.completed())[0]!);
    expect(newest.tasks).toHaveLength(5);
    // Keys whose new partition is one of the added ones counted on from their restored state there.
    expect(readFileSync(join(dir, 'logs', 'coordinator.log'), 'utf8')).toContain('rescaled: the new checkpoint holds every key');
  }, 240_000);

  it('refuses to rescale while an old partition holds unprocessed records written under the old count, naming one', async () => {
    const topics = eosTopics();
    await createTopic(kafka, topics.input, 2);
    const dir = mkdtempSync(join(tmpdir(), 'eddy-rescale-'));
    const keys = Array.from({ length: 50 }, (_, i) => `key-${i}`);
    await produce(topics, keys, 1, 3);
    await runUntil(topics, dir, keys, 3);
    await produce(topics, keys, 4, 4); // written under the old partitioning, never processed
    await addPartitions(topics.input, 3);

    await expect(startEosCluster(topics, 1, dir)).rejects.toThrow(/coordinator exited during start-up/);
    const log = await logOnceItHas(join(dir, 'logs', 'coordinator.log'), 'has records the job has not processed');
    expect(log).toMatch(new RegExp(`partition \\d of ${topics.input.replace(/\./g, '\\.')} has records the job has not processed`));
    const store = checkpointStoreFor(join(dir, 'checkpoints'), `eos-check.${topics.prefix}`);
    expect((await store.readManifest((await store.completed())[0]!)).tasks).toHaveLength(2);
  }, 180_000);
});

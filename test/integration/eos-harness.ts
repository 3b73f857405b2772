/**
 * Drives the built-in `eos-check` job for tests: a local cluster on its own topics, a producer
 * of `{key, seq}` records, and an independent checker of the output.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { inject } from 'vitest';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { verifyEosOutputs, type EosOutput, type EosVerdict } from '../../loadtest/chaos/eos-verifier.ts';
import { uniqueName, type ReadRecord } from './support.ts';

export interface EosTopics {
  prefix: string;
  input: string;
  output: string;
}

export function eosTopics(): EosTopics {
  const prefix = uniqueName('eddy.test.eos');
  return { prefix, input: `${prefix}.input`, output: `${prefix}.output` };
}

/** Starts a cluster of `workers` in `dir` (a fresh directory by default; a previous cluster's to restart it with its checkpoints). */
export async function startEosCluster(topics: EosTopics, workers: number, dir = mkdtempSync(join(tmpdir(), 'eddy-cluster-')), env: NodeJS.ProcessEnv = {}): Promise<LocalCluster> {
  const cluster = new LocalCluster({
    job: 'eos-check',
    workers,
    brokers: inject('brokers'),
    natsUrl: inject('natsUrl'),
    dir,
    controlPort: await freePort(),
    adminPort: await freePort(),
    threadsPerWorker: 1,
    env: { EDDY_EOS_TOPIC_PREFIX: topics.prefix, EDDY_LOG_LEVEL: 'info', ...env },
  });
  await cluster.start();
  return cluster;
}

/** Sends seq `from..to` for every key, in seq order per key. */
export async function produceSeqs(producer: Producer, topic: string, keys: string[], from: number, to: number): Promise<number> {
  const messages = [];
  for (let seq = from; seq <= to; seq++) {
    for (const key of keys) messages.push({ key, value: JSON.stringify({ key, seq }) });
  }
  for (let i = 0; i < messages.length; i += 2_000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
  return messages.length;
}

/** Compares outputs with what the input implies (see loadtest/chaos/eos-verifier.ts). */
export function checkEosOutput(records: ReadRecord[], keys: string[], n: number): EosVerdict {
  return verifyEosOutputs(records.map((r) => JSON.parse(r.value?.toString() ?? 'null') as EosOutput), keys, n);
}

/** True once every key's output reached seq n. */
export function allKeysReached(records: ReadRecord[], keys: string[], n: number): boolean {
  const done = new Set<string>();
  for (const r of records) {
    const out = JSON.parse(r.value?.toString() ?? 'null') as { key: string; seq: number };
    if (out.seq === n) done.add(out.key);
  }
  return keys.every((k) => done.has(k));
}

export function producerFor(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
}

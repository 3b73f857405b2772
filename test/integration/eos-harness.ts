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

export async function startEosCluster(topics: EosTopics, workers: number): Promise<LocalCluster> {
  const cluster = new LocalCluster({
    job: 'eos-check',
    workers,
    brokers: inject('brokers'),
    natsUrl: inject('natsUrl'),
    dir: mkdtempSync(join(tmpdir(), 'eddy-cluster-')),
    controlPort: await freePort(),
    adminPort: await freePort(),
    threadsPerWorker: 1,
    env: { EDDY_EOS_TOPIC_PREFIX: topics.prefix, EDDY_LOG_LEVEL: 'info' },
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

export interface EosOutputCheck {
  outputs: number;
  /** (key, seq) pairs of the input that no output carries. */
  lost: number;
  /** Outputs beyond the first for the same (key, seq). */
  duplicated: number;
  /** Distinct outputs whose count differs from seq (state lost or doubled). */
  wrongCounts: number;
}

/** Compares outputs with what the input implies: for each key, seq 1..n each with count == seq. */
export function checkEosOutput(records: ReadRecord[], keys: string[], n: number): EosOutputCheck {
  const seen = new Map<string, number>();
  let wrongCounts = 0;
  for (const r of records) {
    const out = JSON.parse(r.value?.toString() ?? 'null') as { key: string; seq: number; count: number };
    const id = `${out.key}/${out.seq}`;
    if (!seen.has(id) && out.count !== out.seq) wrongCounts += 1;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let lost = 0;
  for (const key of keys) for (let seq = 1; seq <= n; seq++) if (!seen.has(`${key}/${seq}`)) lost += 1;
  const duplicated = [...seen.values()].reduce((sum, c) => sum + c - 1, 0);
  return { outputs: records.length, lost, duplicated, wrongCounts };
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

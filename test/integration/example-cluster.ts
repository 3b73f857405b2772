/**
 * Runs an example job on a real cluster (coordinator + 3 worker processes) for the integration
 * tests: creates its source topics, starts the cluster, produces the given records at a steady
 * rate while SIGKILLing a worker every few seconds (waiting for the survivors to take over, then
 * restarting it), and hands back the running cluster for the test to read its outputs from.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { createTopicsReady } from '../../common/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { readUntil, type ReadRecord } from './support.ts';

/** A record to produce. */
export type ExampleRecord = { topic: string; key: Buffer | string | null; value: Buffer | string | null; timestampMs: number };

export interface ExampleRun {
  /** A built-in job name or module path. */
  job: string;
  /** Environment of every cluster process (the job's options). */
  env: Record<string, string>;
  /** Source topics to create, with `partitions` each. */
  topics: string[];
  partitions: number;
  records: readonly ExampleRecord[];
  /** Records per second. */
  rate: number;
  /** Worker SIGKILLs during production (at least). */
  kills: number;
}

/** Starts the cluster, produces with kills; the caller reads outputs and stops the cluster. */
export async function runExample(kafka: Kafka, run: ExampleRun): Promise<{ cluster: LocalCluster; killed: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // retention.ms=-1: generated records carry timestamps of 2025-01-01 (reproducible data), and
    // the broker's 7-day time retention would delete them mid-run (seen: offsets out of range).
    const configEntries = [{ name: 'retention.ms', value: '-1' }];
    await createTopicsReady(admin, run.topics.map((topic) => ({ topic, numPartitions: run.partitions, replicationFactor: 1, configEntries })));
  } finally {
    await admin.disconnect();
  }
  const cluster = new LocalCluster({
    job: run.job, workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
    dir: mkdtempSync(join(tmpdir(), 'eddy-example-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
    env: { EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_LOG_LEVEL: 'info', ...run.env },
  });
  await cluster.start();
  try {
    await cluster.waitUntilRunning(120_000);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let killed = 0;
    try {
      const slice = Math.max(1, Math.round(run.rate / 10));
      const production = (async () => {
        for (let i = 0; i < run.records.length; i += slice) {
          const batch = run.records.slice(i, i + slice);
          const topics = [...new Set(batch.map((r) => r.topic))];
          await producer.sendBatch({ acks: -1, topicMessages: topics.map((topic) => ({ topic, messages: batch.filter((r) => r.topic === topic).map((r) => ({ key: r.key, value: r.value, timestamp: String(r.timestampMs) })) })) });
          await sleep(100);
        }
      })();
      const workers = cluster.workerNames();
      while (killed < run.kills) {
        await sleep(3_000);
        const victim = workers[killed % workers.length] as string;
        await cluster.kill(victim, 'SIGKILL');
        killed += 1;
        await waitRunning(cluster, workers.length - 1, 60_000);
        cluster.restart(victim);
        await waitRunning(cluster, workers.length, 60_000);
      }
      await production;
    } finally {
      await producer.disconnect();
    }
    return { cluster, killed };
  } catch (thrown) {
    await cluster.stop();
    throw thrown;
  }
}

/**
 * Reads a topic as an upsert table (latest JSON value per key, tombstones delete) until it equals
 * `expected`, or `timeoutMs` passes; returns what it read (compare it to show the difference).
 */
export async function readTableUntil<T>(kafka: Kafka, topic: string, expected: ReadonlyMap<string, T>, timeoutMs = 180_000): Promise<Map<string, T>> {
  const table = new Map<string, T>();
  let seen = 0;
  const sorted = (m: ReadonlyMap<string, unknown>) => JSON.stringify([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const want = sorted(expected);
  await readUntil(kafka, {
    topics: [topic], timeoutMs, settleMs: 3_000, partialOnTimeout: true,
    done: (records: ReadRecord[]) => {
      for (; seen < records.length; seen++) {
        const { key, value } = records[seen] as ReadRecord;
        if (value === null) table.delete(String(key));
        else table.set(String(key), JSON.parse(value.toString()) as T);
      }
      return sorted(table) === want;
    },
  });
  return new Map([...table].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `map` sorted by key, for comparing with {@link readTableUntil}'s result. */
export function byKey<T>(map: ReadonlyMap<string, T>): Map<string, T> {
  return new Map([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * A running `eos-check` cluster on topics of its own, for tests that watch a cluster from
 * outside (the dashboard in a browser, Prometheus scraping it): creates `<prefix>.input` and
 * `<prefix>.output`, starts a coordinator and 3 workers, and waits until every task runs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { inject } from 'vitest';
import { createTopicsReady, deleteTopicsOf } from '../../common/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';

export async function startEosCluster(kafka: Kafka, prefix: string, env: NodeJS.ProcessEnv = {}): Promise<{ cluster: LocalCluster; dir: string; topics: { input: string; output: string } }> {
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
  } finally {
    await admin.disconnect();
  }
  const dir = mkdtempSync(join(tmpdir(), 'eddy-eos-cluster-'));
  const cluster = new LocalCluster({
    job: 'eos-check', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
    dir, controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
    env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_LOG_LEVEL: 'info', ...env },
  });
  try {
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
  } catch (err) {
    // The caller never gets the cluster to stop: stop what was started here.
    await cluster.stop();
    throw err;
  }
  return { cluster, dir, topics };
}

/** Stops the cluster (if it started) and deletes every topic of the run. */
export async function stopEosCluster(kafka: Kafka, cluster: LocalCluster | undefined, prefix: string): Promise<void> {
  await cluster?.stop();
  await deleteTopicsOf(kafka, prefix);
}

/**
 * Exactly-once into PostgreSQL under faults, on a 3-worker cluster with real Kafka and a real
 * PostgreSQL: while 12,000 records are produced, a worker is SIGKILLed, PostgreSQL itself is
 * restarted (every open connection cut, publishes failing until it is back), and another
 * worker is SIGKILLed. An independent reader then finds every record's row exactly once in the
 * append table and every key's final count in the upsert table.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { postgresUrl, startPostgres, stopPostgres } from '../../deploy/local/postgres.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { cdcChainConfig, stopCdcChain } from './cdc-chain.ts';
import { createTopic, testKafka, uniqueName } from './support.ts';

const KEYS = 12;
const PER_KEY = 1_000;

describe('the PostgreSQL sink on a cluster, with workers killed and PostgreSQL restarted', () => {
  const kafka = testKafka();
  const name = uniqueName('pg-sink-faults');
  const table = name.replace(/-/g, '_');
  let config: EddyConfig | undefined;
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (config !== undefined) await stopCdcChain(config, 'none');
  });

  it('writes every record once and every final count, whatever the faults', async () => {
    config = await cdcChainConfig();
    const logger = createLogger('test-pg-sink-faults');
    await startPostgres(config, logger);
    const url = postgresUrl(config);
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query(`CREATE TABLE ${table}_counts (key text PRIMARY KEY, count integer NOT NULL, last_seq integer NOT NULL); CREATE TABLE ${table}_events (key text NOT NULL, seq integer NOT NULL)`);
    await setup.end();
    const topic = `${name}-in`;
    await createTopic(kafka, topic, 4);
    cluster = new LocalCluster({
      job: 'test/integration/jobs/pg-sink-job.ts', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      dir: mkdtempSync(join(tmpdir(), 'eddy-pg-faults-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_POSTGRES_URL: url, EDDY_PG_SINK_JOB: JSON.stringify({ name, topic, table, partitions: 4 }) },
    });
    await cluster.start();
    await cluster.waitUntilRunning(120_000);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const total = KEYS * PER_KEY;
    const faults: string[] = [];
    for (let sent = 0, slice = 0; sent < total; slice++) {
      const batch = Array.from({ length: Math.min(200, total - sent) }, (_, i) => {
        const n = sent + i;
        const key = `k${n % KEYS}`;
        return { key, value: JSON.stringify({ key, seq: Math.floor(n / KEYS) }) };
      });
      await producer.send({ topic, messages: batch });
      sent += batch.length;
      if (slice === 10 || slice === 40) {
        const victim = cluster.workerNames()[slice === 10 ? 0 : 1] as string;
        await cluster.kill(victim, 'SIGKILL');
        faults.push(`SIGKILL ${victim}`);
        await waitRunning(cluster, 2, 60_000);
        cluster.restart(victim);
      }
      if (slice === 25) {
        await stopPostgres(config);
        faults.push('PostgreSQL stopped');
        await sleep(2_000);
        await startPostgres(config, logger);
        faults.push('PostgreSQL started');
      }
      await sleep(100);
    }
    await producer.disconnect();
    await waitRunning(cluster, 3, 60_000);

    const reader = new pg.Client({ connectionString: url });
    await reader.connect();
    try {
      let counted = 0;
      for (const deadline = Date.now() + 180_000; counted < total && Date.now() < deadline; await sleep(1_000)) {
        counted = Number((await reader.query<{ n: string }>(`SELECT coalesce(sum(count), 0) AS n FROM ${table}_counts`)).rows[0]?.n ?? 0);
      }
      await sleep(3_000); // a late duplicate would land by now
      const counts = (await reader.query<{ key: string; count: number; last_seq: number }>(`SELECT key, count, last_seq FROM ${table}_counts ORDER BY key`)).rows;
      expect(counts).toEqual(Array.from({ length: KEYS }, (_, k) => `k${k}`).sort().map((key) => ({ key, count: PER_KEY, last_seq: PER_KEY - 1 })));
      const events = (await reader.query<{ rows: string; distinct_rows: string; keys: string }>(`SELECT count(*) AS rows, count(DISTINCT (key, seq)) AS distinct_rows, count(DISTINCT key) AS keys FROM ${table}_events`)).rows[0];
      expect({ rows: Number(events?.rows), distinct: Number(events?.distinct_rows), keys: Number(events?.keys) }).toEqual({ rows: total, distinct: total, keys: KEYS });
    } finally {
      await reader.end();
    }
    expect(faults).toEqual([expect.stringMatching(/^SIGKILL/), 'PostgreSQL stopped', 'PostgreSQL started', expect.stringMatching(/^SIGKILL/)]);
    console.log(`PostgreSQL sink under faults: ${total} records, ${faults.join(', ')}; every record once, every count exact`);
  }, 600_000);
});

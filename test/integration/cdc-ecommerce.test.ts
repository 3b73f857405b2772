/**
 * The real CDC chain end to end: a PostgreSQL started by the project, a workload of realistic
 * transactions on it (loadtest/cdc/db-workload.ts), Debezium on Kafka Connect, the local Kafka,
 * and the `ecommerce` job on a 3-worker cluster with a worker SIGKILLed during the run and the
 * order items truncated two thirds of the way. Once the
 * workload stops and the pipeline drains, every revenue window the job wrote equals the same
 * aggregate computed by SQL over the source tables (test/support/ecommerce-sql-oracle.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { postgresConnectorConfig, registerConnector, startConnect } from '../../deploy/local/connect.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { postgresUrl, startPostgres } from '../../deploy/local/postgres.ts';
import { DEFAULTS, type RevenueWindow } from '../../examples/ecommerce/job.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { runDbWorkload } from '../../loadtest/cdc/db-workload.ts';
import { revenueBySql } from '../support/ecommerce-sql-oracle.ts';
import { cdcChainConfig, stopCdcChain } from './cdc-chain.ts';
import { byKey, readTableUntil } from './example-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

describe('the ecommerce job on the real CDC chain (PostgreSQL -> Debezium -> Kafka -> Eddy)', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy_shop').replace(/-/g, '_');
  let config: EddyConfig | undefined;
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (config !== undefined) await stopCdcChain(config, prefix);
  });

  it('writes revenue windows equal to SQL over the source tables, with a worker killed during the run', async () => {
    config = await cdcChainConfig();
    const logger = createLogger('test-cdc-e2e');
    await startPostgres(config, logger);
    await startConnect(config, inject('brokers'), logger);
    // 10-second windows, so a minute of transactions fills several.
    const options = { ...DEFAULTS, topicPrefix: prefix, partitions: 4, windowMs: 10_000 };
    cluster = new LocalCluster({
      job: 'ecommerce', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      dir: mkdtempSync(join(tmpdir(), 'eddy-cdc-cluster-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_ECOMMERCE: JSON.stringify(options) },
    });
    await cluster.start(); // creates the source topics with 4 partitions, as the connector would
    await cluster.waitUntilRunning(120_000);
    await registerConnector(config, prefix, postgresConnectorConfig(config, { name: prefix, topicPrefix: prefix, slot: prefix, partitions: 4 }), 120_000);

    let done = false;
    const workload = runDbWorkload({ url: postgresUrl(config), seed: 2029, transactions: 1_500, rate: 40, truncateItemsAt: 900 }).finally(() => {
      done = true;
    });
    await sleep(8_000);
    const victim = cluster.workerNames()[0] as string;
    await cluster.kill(victim, 'SIGKILL');
    await waitRunning(cluster, 2, 60_000);
    cluster.restart(victim);
    await waitRunning(cluster, 3, 60_000);
    const report = await workload;
    expect(done).toBe(true);
    expect(report.orders).toBeGreaterThan(400);
    expect(report.statuses).toBeGreaterThan(200);
    expect(report.truncates).toBe(1);

    const expected = await revenueBySql(postgresUrl(config), options.windowMs);
    expect(expected.size).toBeGreaterThan(3);
    const revenue = await readTableUntil<RevenueWindow>(kafka, `${prefix}.revenue_5m`, expected, 180_000);
    expect(revenue).toEqual(byKey(expected));
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`ecommerce on the real CDC chain: ${report.transactions} transactions (${report.orders} orders, ${report.statuses} status changes, ${report.deletes} item deletes, ${report.truncates} truncate of order_items), 1 worker kill, ${expected.size} windows equal to SQL over the source tables`);
  }, 600_000);
});

/**
 * The real CDC chain from the MySQL side: a MariaDB started by the project (binlog in row
 * format), Debezium's MariaDB connector on Kafka Connect, the local Kafka, and the `ecommerce`
 * job on a 3-worker cluster writing PostgreSQL's analytics tables through the exactly-once sink,
 * with a worker SIGKILLed during a seeded workload (a truncate of the items included). After the
 * drain, analytics.revenue_analytics equals the same aggregate computed by MariaDB's SQL over
 * its source tables (test/support/ecommerce-sql-oracle.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { deleteConnector, mysqlConnectorConfig, registerConnector, startConnect, stopConnect } from '../../deploy/local/connect.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { mysqlDir, mysqlUrl, startMysql, stopMysql } from '../../deploy/local/mysql.ts';
import { postgresUrl, startPostgres } from '../../deploy/local/postgres.ts';
import { DEFAULTS, type EcommerceOptions } from '../../examples/ecommerce/job.ts';
import { runDbWorkload } from '../../loadtest/cdc/db-workload.ts';
import { revenueByMysql } from '../support/ecommerce-sql-oracle.ts';
import { cdcChainConfig, killOneWorker, revenueTableUntil, stopCdcChain } from './cdc-chain.ts';
import { byKey } from './example-cluster.ts';
import { uniqueName } from './support.ts';

describe('the ecommerce job on the real CDC chain from MariaDB (binlog -> Debezium -> Kafka -> Eddy -> PostgreSQL)', () => {
  const prefix = uniqueName('eddy_maria').replace(/-/g, '_');
  let config: EddyConfig | undefined;
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (config === undefined) return;
    await deleteConnector(config, prefix).catch(() => undefined);
    await stopConnect(config);
    await stopMysql(config);
    // Stops Connect and PostgreSQL and removes their directory, which (as root) holds MariaDB's too.
    await stopCdcChain(config, 'none');
    rmSync(mysqlDir(config), { recursive: true, force: true });
  });

  it('writes revenue windows equal to MariaDB SQL over the source tables, with a worker killed during the run', async () => {
    const base = await cdcChainConfig();
    config = { ...base, local: { ...base.local, mysqlPort: await freePort() } };
    const logger = createLogger('test-cdc-mysql');
    expect(await startMysql(config, logger)).toBe('started');
    await startPostgres(config, logger); // where the analytics go
    await startConnect(config, inject('brokers'), logger);
    const options: EcommerceOptions = { ...DEFAULTS, topicPrefix: prefix, sourceSchema: 'ecommerce', partitions: 4, windowMs: 10_000, output: 'postgres', alertsSubject: `alerts.${prefix}` };
    cluster = new LocalCluster({
      job: 'ecommerce', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      dir: mkdtempSync(join(tmpdir(), 'eddy-cdc-mysql-cluster-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_ECOMMERCE: JSON.stringify(options), EDDY_POSTGRES_URL: postgresUrl(config) },
    });
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
    await registerConnector(config, prefix, mysqlConnectorConfig(config, { name: prefix, topicPrefix: prefix, partitions: 4, brokers: inject('brokers') }), 120_000);

    const workload = runDbWorkload({ url: mysqlUrl(config), seed: 3031, transactions: 900, rate: 40, truncateItemsAt: 600 });
    await sleep(8_000);
    await killOneWorker(cluster);
    const report = await workload;
    expect(report.orders).toBeGreaterThan(200);
    expect(report.truncates).toBe(1);

    const expected = await revenueByMysql(mysqlUrl(config), options.windowMs);
    expect(expected.size).toBeGreaterThan(2);
    const revenue = await revenueTableUntil(postgresUrl(config), expected, 180_000);
    expect(revenue).toEqual(byKey(expected));
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`ecommerce on the MariaDB chain: ${report.transactions} transactions (${report.orders} orders, ${report.statuses} status changes, ${report.deletes} item deletes, ${report.truncates} truncate), 1 worker kill, ${expected.size} windows equal to MariaDB SQL`);
  }, 600_000);
});

/**
 * The real CDC chain end to end: a PostgreSQL started by the project, a workload of realistic
 * transactions on it (loadtest/cdc/db-workload.ts), Debezium on Kafka Connect, the local Kafka,
 * and the `ecommerce` job on a 3-worker cluster with a worker SIGKILLed during the run and the
 * order items truncated two thirds of the way. Once the
 * workload stops and the pipeline drains, every revenue window the job wrote equals the same
 * aggregate computed by SQL over the source tables (test/support/ecommerce-sql-oracle.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { deleteConnector, postgresConnectorConfig, registerConnector, startConnect, stopConnect } from '../../deploy/local/connect.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { postgresDir, postgresUrl, startPostgres, stopPostgres } from '../../deploy/local/postgres.ts';
import { DEFAULTS, type RevenueWindow } from '../../examples/ecommerce/job.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { runDbWorkload } from '../../loadtest/cdc/db-workload.ts';
import { revenueBySql } from '../support/ecommerce-sql-oracle.ts';
import { byKey, readTableUntil } from './example-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

describe('the ecommerce job on the real CDC chain (PostgreSQL -> Debezium -> Kafka -> Eddy)', () => {
  const kafka = testKafka();
  const stateDir = join(tmpdir(), uniqueName('eddy-cdc-e2e'));
  const prefix = uniqueName('eddy_shop').replace(/-/g, '_');
  let config: ReturnType<typeof loadConfig> | undefined;
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (config === undefined) return;
    await deleteConnector(config, prefix).catch(() => undefined);
    await stopConnect(config);
    const db = new pg.Client({ connectionString: postgresUrl(config) });
    await db.connect().then(async () => {
      await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [prefix]).catch(() => undefined);
      await db.end();
    }).catch(() => undefined);
    await stopPostgres(config);
    rmSync(process.getuid?.() === 0 ? dirname(postgresDir(config)) : postgresDir(config), { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('writes revenue windows equal to SQL over the source tables, with a worker killed during the run', async () => {
    config = loadConfig({ env: { ...process.env, EDDY_STATE_DIR: stateDir, EDDY_POSTGRES_PORT: String(await freePort()), EDDY_CONNECT_PORT: String(await freePort()) } });
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

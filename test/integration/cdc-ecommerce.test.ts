/**
 * The real CDC chain end to end: a PostgreSQL started by the project, a workload of realistic
 * transactions on it (loadtest/cdc/db-workload.ts), Debezium on Kafka Connect, the local Kafka,
 * and the `ecommerce` job on a 3-worker cluster writing seed 004's analytics tables in the same
 * PostgreSQL through the exactly-once sink, with a worker SIGKILLed during the run and the
 * order items truncated two thirds of the way. Once the workload stops and the pipeline drains,
 * analytics.revenue_analytics equals the same aggregate computed by SQL over the source tables
 * (test/support/ecommerce-sql-oracle.ts), and analytics.inventory_alerts holds exactly one row
 * per stock-level crossing, counted independently from the products' change events; NATS
 * carries each of them at least once. Changes after a column is added go on through the job; a
 * column whose type changes under it and a record that is not JSON land in the dead-letter topic
 * with their reasons.
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
import { DEFAULTS, type EcommerceOptions, type InventoryAlert } from '../../examples/ecommerce/job.ts';
import { runDbWorkload } from '../../loadtest/cdc/db-workload.ts';
import { revenueBySql } from '../support/ecommerce-sql-oracle.ts';
import { cdcChainConfig, db, killOneWorker, revenueTableUntil, stopCdcChain } from './cdc-chain.ts';
import { byKey } from './example-cluster.ts';
import { readRecords, readUntil, testKafka, uniqueName, type ReadRecord } from './support.ts';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import { connect } from 'nats';

describe('the ecommerce job on the real CDC chain (PostgreSQL -> Debezium -> Kafka -> Eddy)', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy_shop').replace(/-/g, '_');
  let config: EddyConfig | undefined;
  let cluster: LocalCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    if (config !== undefined) await stopCdcChain(config, prefix);
  });

  it('writes analytics tables in PostgreSQL equal to SQL over the source tables, with a worker killed during the run', async () => {
    config = await cdcChainConfig();
    const logger = createLogger('test-cdc-e2e');
    // The alerts also go to NATS (at-least-once): listen from the start.
    const nats = await connect({ servers: inject('natsUrl') });
    const notified: string[] = [];
    const subscription = nats.subscribe(`alerts.${prefix}`, { callback: (_err, m) => notified.push(new TextDecoder().decode(m.data)) });
    await startPostgres(config, logger);
    await startConnect(config, inject('brokers'), logger);
    // 10-second windows, so a minute of transactions fills several.
    const options: EcommerceOptions = { ...DEFAULTS, topicPrefix: prefix, partitions: 4, windowMs: 10_000, output: 'postgres', alertsSubject: `alerts.${prefix}` };
    cluster = new LocalCluster({
      job: 'ecommerce', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      dir: mkdtempSync(join(tmpdir(), 'eddy-cdc-cluster-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_ECOMMERCE: JSON.stringify(options), EDDY_POSTGRES_URL: postgresUrl(config) },
    });
    await cluster.start(); // creates the source topics with 4 partitions, as the connector would
    await cluster.waitUntilRunning(120_000);
    await registerConnector(config, prefix, postgresConnectorConfig(config, { name: prefix, topicPrefix: prefix, slot: prefix, partitions: 4 }), 120_000);

    let done = false;
    const workload = runDbWorkload({ url: postgresUrl(config), seed: 2029, transactions: 1_500, rate: 40, truncateItemsAt: 900 }).finally(() => {
      done = true;
    });
    await sleep(8_000);
    await killOneWorker(cluster);
    const report = await workload;
    expect(done).toBe(true);
    expect(report.orders).toBeGreaterThan(400);
    expect(report.statuses).toBeGreaterThan(200);
    expect(report.truncates).toBe(1);

    // A column type the job cannot take (stock as text) and a record that is not Debezium at all:
    // dead letters with their reasons, and the pipeline goes on.
    const alter = new pg.Client({ connectionString: postgresUrl(config) });
    await alter.connect();
    // A column added while the pipeline runs: the changes that carry it go on through the job
    // (product 2 back in stock, then at -7: an alert only the job can have computed from them).
    await alter.query('ALTER TABLE products ADD COLUMN color TEXT');
    await alter.query("UPDATE products SET color = 'red', stock_quantity = 100 WHERE product_id = 2");
    await alter.query("UPDATE products SET color = 'blue', stock_quantity = -7 WHERE product_id = 2");
    await alter.query('ALTER TABLE products ALTER COLUMN stock_quantity TYPE TEXT');
    await alter.query("UPDATE products SET stock_quantity = '5' WHERE product_id = 1");
    await alter.end();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: `${prefix}.public.orders`, messages: [{ key: '{"order_id":1}', value: 'not json {', partition: 0 }] });
    await producer.disconnect();
    const reasonOf = (r: ReadRecord) => `${String(r.headers?.['eddy.dlq.field'])}: ${String(r.headers?.['eddy.dlq.reason'])}`;
    const letters = await readUntil(kafka, { topics: [`eddy.${prefix}.dlq`], timeoutMs: 120_000, done: (r) => r.length >= 2 });
    expect(letters.map(reasonOf).sort()).toEqual([expect.stringMatching(/^: not valid JSON/), expect.stringMatching(/^after\.stock_quantity: .*must be an integer, got "5"/)]);
    expect(letters.map((r) => String(r.value)).filter((v) => v === 'not json {')).toHaveLength(1); // the original bytes

    const expected = await revenueBySql(postgresUrl(config), options.windowMs);
    expect(expected.size).toBeGreaterThan(3);
    const revenue = await revenueTableUntil(postgresUrl(config), expected, 180_000);
    expect(revenue).toEqual(byKey(expected));
    // Inventory alerts: one per crossing of a stock level, counted independently from the products' change events.
    const crossings = alertsFromChanges(await readWholeTopic(kafka, `${prefix}.public.products`), options);
    expect(crossings.length).toBeGreaterThan(0);
    const alerts = await db(postgresUrl(config), 'SELECT product_id, product_name, current_stock, threshold, alert_level FROM analytics.inventory_alerts');
    expect(sortAlerts(alerts as InventoryAlert[])).toEqual(sortAlerts(crossings));
    expect(alerts).toContainEqual(expect.objectContaining({ product_id: 2, current_stock: -7, alert_level: 'out_of_stock' }));
    // NATS got every alert, at least once (a replay after the kill may repeat some).
    await nats.flush();
    subscription.unsubscribe();
    await nats.drain();
    expect([...new Set(sortAlerts(notified.map((n) => JSON.parse(n) as InventoryAlert)))]).toEqual([...new Set(sortAlerts(crossings))]);
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`ecommerce on the real CDC chain: ${report.transactions} transactions (${report.orders} orders, ${report.statuses} status changes, ${report.deletes} item deletes, ${report.truncates} truncate of order_items), 1 worker kill, ${expected.size} windows equal to SQL over the source tables, ${alerts.length} inventory alerts, one per crossing`);
  }, 600_000);
});

/** Every record of a topic (read_committed), up to its end offsets now. */
async function readWholeTopic(kafka: Kafka, topic: string): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const count = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  return readRecords(kafka, { topics: [topic], count, timeoutMs: 60_000 });
}

/** The alerts the job must have written: per product, in change order, each change into a stock level other than the last one's. */
function alertsFromChanges(records: readonly ReadRecord[], o: EcommerceOptions): InventoryAlert[] {
  const level = (stock: number) => (stock <= 0 ? 'out_of_stock' : stock < o.criticalStock ? 'critical' : stock < o.lowStock ? 'low' : null);
  const threshold = { low: o.lowStock, critical: o.criticalStock, out_of_stock: 0 } as const;
  const last = new Map<number, number>();
  const alerts: InventoryAlert[] = [];
  const ordered = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  for (const record of ordered) {
    if (record.value === null) continue;
    const event = JSON.parse(record.value.toString()) as { payload?: ProductEvent } & ProductEvent;
    const after = (event.payload ?? event).after;
    if (after === null || typeof after.stock_quantity !== 'number') continue; // the job dead-letters a stock that is not a number
    const now = level(after.stock_quantity);
    const before = last.get(after.product_id);
    last.set(after.product_id, after.stock_quantity);
    if (now !== null && (before === undefined || level(before) !== now)) {
      alerts.push({ product_id: after.product_id, product_name: after.name, current_stock: after.stock_quantity, threshold: threshold[now], alert_level: now });
    }
  }
  return alerts;
}

type ProductEvent = { after: { product_id: number; name: string; stock_quantity: number } | null };

function sortAlerts(alerts: readonly InventoryAlert[]): string[] {
  return alerts.map((a) => JSON.stringify([a.product_id, a.product_name, a.current_stock, a.threshold, a.alert_level])).sort();
}

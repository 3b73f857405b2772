/**
 * The `ecommerce` job on a real cluster (coordinator + 3 worker processes, real Kafka): generated
 * Debezium change events produced at a steady rate while workers are SIGKILLed and restarted,
 * plus invalid records; every output is then compared with the independent computation over the
 * same events (test/support/ecommerce-oracle.ts), read back with read_committed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTopicsReady } from '../../common/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { DEFAULTS, type InventoryAlert, type RevenueWindow, type UserSession } from '../../examples/ecommerce/job.ts';
import { generateCdcEvents, type CdcEvent } from '../../loadtest/cdc/generator.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { expectedAlerts, expectedRevenue, expectedSessions, placedOrders } from '../support/ecommerce-oracle.ts';
import { readUntil, testKafka, uniqueName, type ReadRecord } from './support.ts';

const PARTITIONS = 4;
const TABLES = ['orders', 'order_items', 'products'];
const RATE = 1_000;
const EVENTS = 12_000;

describe('ecommerce job on a cluster, with workers killed during the run', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy-ecom').replace(/-/g, '_');
  // One event per simulated second: 12,000 events span 3 h 20 min of event time, so sessions
  // close. Watermarks keep a lane per upstream task, so the default 5 s out-of-orderness holds
  // though a checkpoint interval carries minutes of event time. Thresholds high enough to cross often.
  const options = { ...DEFAULTS, topicPrefix: prefix, partitions: PARTITIONS, lowStock: 80, criticalStock: 30 };
  const events: CdcEvent[] = [];
  for (const event of generateCdcEvents({ seed: 2026, topicPrefix: prefix, eventIntervalMs: 1_000, initialProducts: 40, initialUsers: 60 })) {
    if (TABLES.some((t) => event.topic.endsWith(`.public.${t}`))) events.push(event);
    if (events.length === EVENTS) break;
  }
  let cluster: LocalCluster;
  let producer: Producer;

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsReady(admin, TABLES.map((t) => ({ topic: `${prefix}.public.${t}`, numPartitions: PARTITIONS, replicationFactor: 1 })));
    await admin.disconnect();
    cluster = new LocalCluster({
      job: 'ecommerce', workers: 3, brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      dir: mkdtempSync(join(tmpdir(), 'eddy-ecommerce-')), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_ECOMMERCE: JSON.stringify(options), EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_LOG_LEVEL: 'info' },
    });
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }, 180_000);

  afterAll(async () => {
    await producer?.disconnect();
    await cluster?.stop();
  });

  it('equals the independent computation of every output', async () => {
    const garbage = [Buffer.from('{"op":'), Buffer.from([0xff, 0xfe, 0x00])];
    let killed = 0;
    const production = (async () => {
      for (let i = 0; i < events.length; i += RATE / 10) {
        const batch = events.slice(i, i + RATE / 10);
        await producer.sendBatch({ acks: -1, topicMessages: TABLES.map((t) => ({ topic: `${prefix}.public.${t}`, messages: batch.filter((e) => e.topic.endsWith(`.public.${t}`)).map((e) => ({ key: e.key, value: e.value, timestamp: String(e.timestampMs) })) })) });
        if (i === 3_000) await producer.send({ topic: `${prefix}.public.orders`, acks: -1, messages: garbage.map((value, n) => ({ key: `{"order_id":${900_000 + n}}`, value })) });
        await sleep(100);
      }
    })();
    // SIGKILL a worker every ~3 s while producing, wait for the survivors to take over, restart it.
    const workers = cluster.workerNames();
    while (killed < 3) {
      await sleep(3_000);
      const victim = workers[killed % workers.length] as string;
      await cluster.kill(victim, 'SIGKILL');
      killed += 1;
      await waitRunning(cluster, workers.length - 1, 60_000);
      cluster.restart(victim);
      await waitRunning(cluster, workers.length, 60_000);
    }
    await production;

    const revenueExpected = expectedRevenue(events, options);
    const revenue = new Map<string, RevenueWindow>();
    let seen = 0;
    const upsert = (records: ReadRecord[]): Map<string, RevenueWindow> => {
      for (; seen < records.length; seen++) {
        const { key, value } = records[seen] as ReadRecord;
        if (value === null) revenue.delete(String(key));
        else revenue.set(String(key), JSON.parse(value.toString()) as RevenueWindow);
      }
      return revenue;
    };
    const equal = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const sorted = (m: Map<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
    await readUntil(kafka, {
      topics: [`${prefix}.revenue_5m`], timeoutMs: 180_000, settleMs: 3_000, partialOnTimeout: true,
      done: (records) => equal(sorted(upsert(records)), sorted(revenueExpected)),
      describe: () => `revenue has ${revenue.size} windows, expected ${revenueExpected.size}`,
    });
    expect(revenueExpected.size).toBeGreaterThan(20);
    expect(sorted(revenue)).toEqual(sorted(revenueExpected));

    // Alerts: each crossing exactly once, in order per product.
    const alertsExpected = expectedAlerts(events, options);
    const alertCount = [...alertsExpected.values()].flat().length;
    const alertRecords = await readUntil(kafka, { topics: [`${prefix}.inventory_alerts`], timeoutMs: 60_000, settleMs: 2_000, partialOnTimeout: true, done: (r) => r.length >= alertCount });
    const alerts = new Map<number, InventoryAlert[]>();
    for (const r of alertRecords) {
      const alert = JSON.parse(String(r.value)) as InventoryAlert;
      alerts.set(alert.product_id, [...(alerts.get(alert.product_id) ?? []), alert]);
    }
    expect(alertCount).toBeGreaterThan(10);
    expect(alerts).toEqual(alertsExpected);
    // Sinks carry the event time in a header; their Kafka timestamp is the time of writing, so
    // retention (7 days by default) does not delete outputs of year-old events at once.
    expect(alertRecords.every((r) => Number(String(r.headers?.['eddy.event.time'])) < Date.now() - 86_400_000)).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `eddy.${prefix}.ordersById`, configNames: ['retention.ms'] }] });
    await admin.disconnect();
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('-1'); // repartitions: kept, whatever their timestamps

    // Sessions: each emitted once, and equal to the session the orders make.
    const sessionsExpected = expectedSessions(placedOrders(events), options.sessionGapMs);
    const sessionRecords = await readUntil(kafka, { topics: [`${prefix}.user_activity`], timeoutMs: 60_000, settleMs: 2_000, done: (r) => r.length > 10 });
    const sessions = sessionRecords.map((r) => JSON.parse(String(r.value)) as UserSession);
    expect(new Set(sessions.map((s) => `${s.user_id}@${s.session_start}`)).size).toBe(sessions.length);
    for (const session of sessions) {
      const match = sessionsExpected.get(session.user_id)?.find((s) => new Date(s.start).toISOString() === session.session_start);
      expect(match, JSON.stringify(session)).toBeDefined();
      expect([session.session_end, session.orders, session.total_spent]).toEqual([new Date(match!.end).toISOString(), match!.orders, match!.cents / 100]);
    }

    // The invalid records, in the dead-letter topic with their original bytes.
    const dead = await readUntil(kafka, { topics: [`eddy.${prefix}.dlq`], timeoutMs: 30_000, settleMs: 1_000, done: (r) => r.length >= garbage.length });
    const byBytes = (a: Buffer, b: Buffer) => Buffer.compare(a, b);
    expect(dead.map((r) => r.value as Buffer).sort(byBytes)).toEqual([...garbage].sort(byBytes));
    expect(dead.every((r) => String(r.headers?.['eddy.dlq.reason']).length > 0)).toBe(true);
    expect(cluster.unexpectedExits()).toEqual([]);
    console.log(`ecommerce on the cluster: ${events.length} events, ${killed} worker kills, ${revenue.size} windows, ${alertCount} alerts, ${sessions.length} sessions: all equal to the independent computation`);
  }, 600_000);
});

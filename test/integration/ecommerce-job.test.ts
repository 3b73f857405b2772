/**
 * The `ecommerce` job on a real cluster (coordinator + 3 worker processes, real Kafka): generated
 * Debezium change events produced at a steady rate while workers are SIGKILLed and restarted,
 * plus invalid records; every output is then compared with the independent computation over the
 * same events (test/support/ecommerce-oracle.ts), read back with read_committed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { DEFAULTS, type InventoryAlert, type RevenueWindow, type UserSession } from '../../examples/ecommerce/job.ts';
import { generateCdcEvents, type CdcEvent } from '../../loadtest/cdc/generator.ts';
import { expectedAlerts, expectedRevenue, expectedSessions, placedOrders } from '../support/ecommerce-oracle.ts';
import { byKey, readTableUntil, runExample } from './example-cluster.ts';
import { readUntil, testKafka, uniqueName } from './support.ts';

const TABLES = ['orders', 'order_items', 'products'];

describe('ecommerce job on a cluster, with workers killed during the run', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy-ecom').replace(/-/g, '_');
  // One event per simulated second: 12,000 events span 3 h 20 min of event time, so sessions
  // close. Watermarks keep a lane per upstream task, so the default 5 s out-of-orderness holds
  // though a checkpoint interval carries minutes of event time. Thresholds high enough to cross often.
  const options = { ...DEFAULTS, topicPrefix: prefix, partitions: 4, lowStock: 80, criticalStock: 30 };
  const events: CdcEvent[] = [];
  for (const event of generateCdcEvents({ seed: 2026, topicPrefix: prefix, eventIntervalMs: 1_000, initialProducts: 40, initialUsers: 60 })) {
    if (TABLES.some((t) => event.topic.endsWith(`.public.${t}`))) events.push(event);
    if (events.length === 12_000) break;
  }
  const garbage = [Buffer.from('{"op":'), Buffer.from([0xff, 0xfe, 0x00])];
  let cluster: LocalCluster | undefined;
  afterAll(() => cluster?.stop());

  it('equals the independent computation of every output', async () => {
    const records = [...events];
    records.splice(3_000, 0, ...garbage.map((value, n) => ({ topic: `${prefix}.public.orders`, key: Buffer.from(`{"order_id":${900_000 + n}}`), value, timestampMs: events[3_000]!.timestampMs }) as CdcEvent));
    const run = await runExample(kafka, { job: 'ecommerce', env: { EDDY_ECOMMERCE: JSON.stringify(options) }, topics: TABLES.map((t) => `${prefix}.public.${t}`), partitions: options.partitions, records, rate: 1_000, kills: 3 });
    cluster = run.cluster;

    const revenueExpected = expectedRevenue(events, options);
    const revenue = await readTableUntil<RevenueWindow>(kafka, `${prefix}.revenue_5m`, revenueExpected);
    expect(revenueExpected.size).toBeGreaterThan(20);
    expect(revenue).toEqual(byKey(revenueExpected));

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
    const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `eddy.${prefix}.orderFacts-left`, configNames: ['retention.ms'] }] });
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
      expect([session.session_end, session.orders_placed, session.total_spent]).toEqual([new Date(match!.end).toISOString(), match!.orders, match!.cents / 100]);
    }

    // The invalid records, in the dead-letter topic with their original bytes.
    const dead = await readUntil(kafka, { topics: [`eddy.${prefix}.dlq`], timeoutMs: 30_000, settleMs: 1_000, done: (r) => r.length >= garbage.length });
    const byBytes = (a: Buffer, b: Buffer) => Buffer.compare(a, b);
    expect(dead.map((r) => r.value as Buffer).sort(byBytes)).toEqual([...garbage].sort(byBytes));
    expect(dead.every((r) => String(r.headers?.['eddy.dlq.reason']).length > 0)).toBe(true);
    expect(run.cluster.unexpectedExits()).toEqual([]);
    console.log(`ecommerce on the cluster: ${events.length} events, ${run.killed} worker kills, ${revenue.size} windows, ${alertCount} alerts, ${sessions.length} sessions: all equal to the independent computation`);
  }, 600_000);
});

/**
 * The source half of the real CDC chain for integration tests: a PostgreSQL and a Kafka Connect
 * worker of the test's own (state directory and ports), and the teardown that leaves nothing
 * behind: the connector, its replication slot, both servers and their directories.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import type { RevenueWindow } from '../../examples/ecommerce/job.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { byKey } from './example-cluster.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type EddyConfig } from '../../common/config.ts';
import { deleteConnector, stopConnect } from '../../deploy/local/connect.ts';
import { freePort } from '../../deploy/local/local-cluster.ts';
import { postgresDir, postgresUrl, stopPostgres } from '../../deploy/local/postgres.ts';
import { uniqueName } from './support.ts';

/** A config whose local PostgreSQL and Connect use a new state directory and free ports. */
export async function cdcChainConfig(): Promise<EddyConfig> {
  const stateDir = join(tmpdir(), uniqueName('eddy-cdc-state'));
  return loadConfig({ env: { ...process.env, EDDY_STATE_DIR: stateDir, EDDY_POSTGRES_PORT: String(await freePort()), EDDY_CONNECT_PORT: String(await freePort()) } });
}

/** Deletes connector `name` and its slot (named alike), stops Connect and PostgreSQL, removes their directories. */
export async function stopCdcChain(config: EddyConfig, name: string): Promise<void> {
  await deleteConnector(config, name).catch(() => undefined);
  await stopConnect(config);
  const db = new pg.Client({ connectionString: postgresUrl(config) });
  await db
    .connect()
    .then(async () => {
      await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [name]).catch(() => undefined);
      await db.end();
    })
    .catch(() => undefined);
  await stopPostgres(config);
  // As root the cluster lives in /var/lib/eddy/<id>/postgres: the id directory is the test's too.
  rmSync(process.getuid?.() === 0 ? dirname(postgresDir(config)) : postgresDir(config), { recursive: true, force: true });
  rmSync(config.local.stateDir, { recursive: true, force: true });
}

/** Waits until every topic exists: Kafka Connect creates a connector's topics as it first writes to them. */
export async function waitForTopics(kafka: Kafka, topics: readonly string[], timeoutMs = 120_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const deadline = Date.now() + timeoutMs; ; ) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`Debezium did not create ${missing.join(', ')} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

/** SIGKILLs the cluster's first worker, waits for the others to take its tasks, and starts it again. */
export async function killOneWorker(cluster: LocalCluster): Promise<void> {
  const victim = cluster.workerNames()[0] as string;
  await cluster.kill(victim, 'SIGKILL');
  await waitRunning(cluster, cluster.workerNames().length - 1, 60_000);
  cluster.restart(victim);
  await waitRunning(cluster, cluster.workerNames().length, 60_000);
}

/** The rows of one query, on a connection of its own. */
export async function db(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** analytics.revenue_analytics as windows, polled until it equals `expected` or time runs out (then what it holds). */
export async function revenueTableUntil(url: string, expected: ReadonlyMap<string, RevenueWindow>, timeoutMs: number): Promise<Map<string, RevenueWindow>> {
  const want = JSON.stringify([...byKey(expected)]);
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const rows = await db(url, `SELECT to_char(window_start, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS window_start, to_char(window_end, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS window_end,
      total_revenue::float8 AS total_revenue, order_count, avg_order_value::float8 AS avg_order_value, top_category FROM analytics.revenue_analytics`);
    const table = byKey(new Map(rows.map((r) => [r.window_start as string, r as RevenueWindow])));
    if (JSON.stringify([...table]) === want || Date.now() > deadline) return table;
    await sleep(1_000);
  }
}


/**
 * `npm run bench:cdc`: the real CDC chain measured end to end, database commit to analytics row.
 * PostgreSQL and Kafka Connect with Debezium of its own (state directory and ports), the local
 * Kafka and NATS, and the `ecommerce` job on a 3-worker cluster writing PostgreSQL's analytics
 * tables through the exactly-once sink, while a seeded workload runs transactions at `--rate`.
 *
 * Latency: every half second after the previous probe was seen, a probe transaction sets a
 * probe product's stock to 100 and then to -k (a crossing into out_of_stock), and a poller on
 * the analytics database times how long after that COMMIT returned the alert row with
 * current_stock = -k is visible there. Throughput: the workload's committed transactions per second and the cluster's records
 * per second. Afterwards the revenue windows are checked against SQL over the source tables.
 * Prints a table and writes loadtest/results/cdc-<time>.json.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { integerOption } from '../../bin/options.ts';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { deleteConnector, mysqlConnectorConfig, postgresConnectorConfig, registerConnector, startConnect, stopConnect } from '../../deploy/local/connect.ts';
import { mysqlDir, mysqlUrl, startMysql, stopMysql } from '../../deploy/local/mysql.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { postgresDir, postgresUrl, startPostgres, stopPostgres } from '../../deploy/local/postgres.ts';
import { ensureLocalStack } from '../../deploy/local/stack.ts';
import { DEFAULTS, type EcommerceOptions } from '../../examples/ecommerce/job.ts';
import { revenueByMysql, revenueBySql } from '../../test/support/ecommerce-sql-oracle.ts';
import { runDbWorkload, toMysql } from '../cdc/db-workload.ts';

const resultsDir = fileURLToPath(new URL('../results', import.meta.url));

const command = new Command('bench:cdc')
  .description('the real CDC chain (PostgreSQL -> Debezium -> Kafka -> Eddy -> PostgreSQL): commit-to-row latency and throughput')
  .option('--rate <tx/s>', 'workload transactions per second', integerOption('--rate', 1), 50)
  .option('--duration <s>', 'seconds of workload (and probes)', integerOption('--duration', 5), 60)
  .option('--workers <n>', 'worker processes', integerOption('--workers', 1, 16), 3)
  .option('--seed <n>', 'workload seed', integerOption('--seed', 0), 7)
  .option('--source <database>', 'postgres or mysql (MariaDB; the analytics stay in PostgreSQL)', sourceOption, 'postgres')
  .action(async (flags: { rate: number; duration: number; workers: number; seed: number; source: 'postgres' | 'mysql' }) => {
    const logger = createLogger('bench-cdc', 'warn');
    const stateDir = join(tmpdir(), `eddy-bench-cdc-${process.pid}`);
    const config = loadConfig({ env: { ...process.env, EDDY_STATE_DIR: stateDir, EDDY_POSTGRES_PORT: String(await freePort()), EDDY_CONNECT_PORT: String(await freePort()), EDDY_MYSQL_PORT: String(await freePort()) } });
    const fromMysql = flags.source === 'mysql';
    const stack = await ensureLocalStack(loadConfig(), logger);
    const prefix = `bench_cdc_${Date.now() % 1_000_000}`;
    let cluster: LocalCluster | undefined;
    try {
      if (fromMysql) await startMysql(config, logger);
      await startPostgres(config, logger);
      await startConnect(config, stack.brokers, logger);
      const url = postgresUrl(config);
      const sourceUrl = fromMysql ? mysqlUrl(config) : url;
      const options: EcommerceOptions = { ...DEFAULTS, topicPrefix: prefix, sourceSchema: fromMysql ? 'ecommerce' : 'public', output: 'postgres', alertsSubject: `alerts.${prefix}`, windowMs: 60_000 };
      mkdirSync(join(stateDir, 'cluster'), { recursive: true });
      cluster = new LocalCluster({
        job: 'ecommerce', workers: flags.workers, brokers: stack.brokers, natsUrl: stack.natsUrl,
        dir: join(stateDir, 'cluster'), controlPort: await freePort(), adminPort: await freePort(),
        env: { EDDY_ECOMMERCE: JSON.stringify(options), EDDY_POSTGRES_URL: url, EDDY_LOG_LEVEL: 'warn' },
      });
      await cluster.start();
      await cluster.waitUntilRunning(180_000);
      const connector = fromMysql
        ? mysqlConnectorConfig(config, { name: prefix, topicPrefix: prefix, partitions: options.partitions, brokers: stack.brokers })
        : postgresConnectorConfig(config, { name: prefix, topicPrefix: prefix, slot: prefix, partitions: options.partitions });
      await registerConnector(config, prefix, connector, 120_000);
      console.log(`chain running from ${flags.source} (${flags.workers} workers, ${options.partitions} partitions); workload ${flags.rate} tx/s for ${flags.duration} s with probes`);

      const probeDb = await probeConnection(sourceUrl);
      const readDb = new pg.Client({ connectionString: url });
      await readDb.connect();
      const probe = await probeDb.insertProduct();
      await sleep(5_000); // the snapshot and the probe product's first change through the chain

      let stop = false;
      const startedMs = Date.now();
      const workload = runDbWorkload({ url: sourceUrl, seed: flags.seed, transactions: Number.POSITIVE_INFINITY, rate: flags.rate, stop: () => stop || Date.now() - startedMs > flags.duration * 1000 });
      const latencies: number[] = [];
      let missed = 0;
      for (let k = 1; Date.now() - startedMs < flags.duration * 1000; k++) {
        // One transaction: back above the thresholds, then below zero, so it is a crossing whatever the workload did to the product.
        await probeDb.cross(probe, -k);
        const committedMs = Date.now();
        const seen = await pollFor(readDb, probe, -k, 30_000);
        if (seen === undefined) missed += 1;
        else latencies.push(seen - committedMs);
        await sleep(500);
      }
      stop = true;
      const report = await workload;
      const elapsedSec = (Date.now() - startedMs) / 1000;
      const view = await cluster.view();
      const records = view?.workers.reduce((sum, w) => sum + w.recordsIn, 0) ?? 0;

      // Correctness after the drain: every revenue window equals SQL over the source tables.
      const expected = fromMysql ? await revenueByMysql(sourceUrl, options.windowMs) : await revenueBySql(url, options.windowMs);
      let equal = false;
      for (const deadline = Date.now() + 120_000; !equal && Date.now() < deadline; await sleep(1_000)) {
        const rows = await readDb.query<{ w: string; total: string; n: number }>("SELECT to_char(window_start, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS w, total_revenue::text AS total, order_count AS n FROM analytics.revenue_analytics");
        const got = new Map(rows.rows.map((r) => [r.w, `${Number(r.total).toFixed(2)}/${r.n}`]));
        equal = expected.size === got.size && [...expected].every(([w, e]) => got.get(w) === `${e.total_revenue.toFixed(2)}/${e.order_count}`);
      }
      await probeDb.end();
      await readDb.end();

      const sorted = [...latencies].sort((a, b) => a - b);
      const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
      const result = {
        at: new Date().toISOString(), source: flags.source, workers: flags.workers, partitions: options.partitions, rateTarget: flags.rate, seed: flags.seed,
        transactions: report.transactions, transactionsPerSec: Math.round((report.transactions / elapsedSec) * 10) / 10, orders: report.orders,
        clusterRecordsIn: records, probes: latencies.length, probesMissed: missed,
        latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99), max: sorted.at(-1) ?? NaN },
        revenueWindows: expected.size, revenueEqualsSql: equal,
      };
      mkdirSync(resultsDir, { recursive: true });
      const file = join(resultsDir, `cdc-${result.at.replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      console.log([
        '| workload tx/s (target) | orders | cluster records in | probes (missed) | commit -> analytics row p50 / p95 / p99 / max | revenue windows = SQL |',
        '| --- | --- | --- | --- | --- | --- |',
        `| ${result.transactionsPerSec} (${flags.rate}) | ${result.orders} | ${records} | ${latencies.length} (${missed}) | ${result.latencyMs.p50} / ${result.latencyMs.p95} / ${result.latencyMs.p99} / ${result.latencyMs.max} ms | ${equal ? 'yes' : 'NO'} (${expected.size}) |`,
      ].join('\n'));
      console.log(`written ${file}`);
      if (!equal || missed > 0) process.exitCode = 1;
    } finally {
      await cluster?.stop();
      await deleteConnector(config, prefix).catch(() => undefined);
      await stopConnect(config);
      await stopPostgres(config);
      await stopMysql(config);
      rmSync(mysqlDir(config), { recursive: true, force: true });
      rmSync(process.getuid?.() === 0 ? dirname(postgresDir(config)) : postgresDir(config), { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
      await stack.stopStarted();
    }
  });

function sourceOption(value: string): 'postgres' | 'mysql' {
  if (value === 'postgres' || value === 'mysql') return value;
  throw new InvalidArgumentError("expected 'postgres' or 'mysql'");
}

/** The probe's connection to the source database: its product, and one crossing per transaction. */
async function probeConnection(sourceUrl: string): Promise<{ insertProduct(): Promise<number>; cross(product: number, stock: number): Promise<void>; end(): Promise<void> }> {
  // One transaction: back above the thresholds, then below zero, so it is a crossing whatever the workload did to the product.
  const crossing = (product: number, stock: number): [string, unknown[]][] => [
    ['BEGIN', []],
    ['UPDATE products SET stock_quantity = 100 WHERE product_id = $1', [product]],
    ['UPDATE products SET stock_quantity = $2 WHERE product_id = $1', [product, stock]],
    ['COMMIT', []],
  ];
  const insert = "INSERT INTO products (name, category, price, stock_quantity) VALUES ('Latency probe', 'probe', 1.00, 100) RETURNING product_id AS id";
  if (sourceUrl.startsWith('mysql://')) {
    const db = await mysql.createConnection({ uri: sourceUrl });
    return {
      insertProduct: async () => Number(((await db.query<mysql.RowDataPacket[]>(insert))[0][0] as { id: number }).id),
      cross: async (product, stock) => {
        for (const [sql, params] of crossing(product, stock)) await db.query(...toMysql(sql, params));
      },
      end: () => db.end(),
    };
  }
  const db = new pg.Client({ connectionString: sourceUrl });
  await db.connect();
  return {
    insertProduct: async () => Number((await db.query<{ id: number }>(insert)).rows[0]?.id),
    cross: async (product, stock) => {
      for (const [sql, params] of crossing(product, stock)) await db.query(sql, params);
    },
    end: () => db.end(),
  };
}

/** Polls until the alert of `stock` for `product` is visible; the time it was seen, or undefined. */
async function pollFor(db: pg.Client, product: number, stock: number, timeoutMs: number): Promise<number | undefined> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) {
    const found = await db.query('SELECT 1 FROM analytics.inventory_alerts WHERE product_id = $1 AND current_stock = $2', [product, stock]);
    if (found.rowCount !== 0) return Date.now();
  }
  return undefined;
}

await command.parseAsync(process.argv);

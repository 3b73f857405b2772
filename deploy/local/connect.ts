/**
 * A real Kafka Connect worker (standalone mode) with Debezium's PostgreSQL and MariaDB connectors, for the
 * CDC chain: jars resolved from Maven Central by Maven into a cache outside the repository
 * (deploy/local/connect/pom.xml), REST on loopback, offsets in a file of its own, a heap within
 * 256 MB. Started on demand, reused while running, stopped by `eddy stack down`, tracked by a
 * pid file like Kafka. Connectors are registered (idempotently) over its REST API.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import type { StartOutcome } from './kafka.ts';
import { mysqlDatabase, mysqlUser } from './mysql.ts';
import { postgresDatabase, postgresUser } from './postgres.ts';
import { mavenJars } from './first-run.ts';
import { isPortOpen, livePid, requireCommand, startDaemon, stopDaemon, waitUntil } from './processes.ts';

export const connectVersion = '4.3.0';
export const debeziumVersion = '3.6.1.Final';
const pomFile = fileURLToPath(new URL('./connect/pom.xml', import.meta.url));
export const debeziumMariadbVersion = '3.5.0.Final';
const mariadbPomFile = fileURLToPath(new URL('./connect/mariadb-pom.xml', import.meta.url));
const postgresPomFile = fileURLToPath(new URL('./connect/postgres-pom.xml', import.meta.url));
const readyTimeoutMs = 120_000;

type Paths = { libs: string; plugins: string; dir: string; properties: string; log4j: string; offsets: string; pidFile: string; logFile: string };

function paths(config: EddyConfig): Paths {
  const dir = join(config.local.stateDir, 'connect');
  return {
    libs: join(config.local.cacheDir, `connect-${connectVersion}`, 'libs'),
    plugins: join(config.local.cacheDir, `connect-plugins-debezium-${debeziumVersion}-mariadb-${debeziumMariadbVersion}`),
    dir,
    properties: join(dir, 'worker.properties'),
    log4j: join(dir, 'log4j.properties'),
    offsets: join(dir, 'offsets'),
    pidFile: join(dir, 'connect.pid'),
    logFile: join(dir, 'connect.log'),
  };
}

/** The REST address of the local Connect worker. */
export function connectUrl(config: EddyConfig): string {
  return `http://${config.local.host}:${config.local.connectPort}`;
}

/** Fetches Connect's and Debezium's jars with Maven unless they are cached already. */
export async function installConnect(config: EddyConfig): Promise<string> {
  const { libs } = paths(config);
  const jars = await mavenJars(pomFile, libs, 'Kafka Connect');
  const { plugins } = paths(config);
  mkdirSync(plugins, { recursive: true });
  await mavenJars(postgresPomFile, join(plugins, 'debezium-postgres'), "Debezium's PostgreSQL connector");
  await mavenJars(mariadbPomFile, join(plugins, 'debezium-mariadb'), "Debezium's MariaDB connector");
  return jars;
}

function workerProperties(config: EddyConfig, brokers: string[], p: Paths): string {
  return [
    '# Written by deploy/local/connect.ts on every start; edit that file, not this one.',
    `bootstrap.servers=${brokers.join(',')}`,
    // Debezium's JSON with its schema, the default of Kafka Connect's JsonConverter.
    'key.converter=org.apache.kafka.connect.json.JsonConverter',
    'value.converter=org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable=true',
    'value.converter.schemas.enable=true',
    `offset.storage.file.filename=${p.offsets}`,
    'offset.flush.interval.ms=1000',
    `listeners=http://${config.local.host}:${config.local.connectPort}`,
    // The local broker does not create topics on demand: the connectors' topics are created by Connect.
    'topic.creation.enable=true',
    // Debezium's connectors, each in a class loader of its own (deploy/local/connect/*-pom.xml).
    `plugin.path=${p.plugins}`,
    '',
  ].join('\n');
}

const log4jProperties = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.org.reflections=ERROR',
  '',
].join('\n');

/** True if the Connect worker's REST API answers at `url`. */
export async function connectAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(1_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts the local Connect worker unless ours is running, and waits until its REST API answers. */
export async function startConnect(config: EddyConfig, brokers: string[], logger: Logger): Promise<StartOutcome> {
  const p = paths(config);
  const { host, connectPort } = config.local;
  const url = connectUrl(config);
  const running = livePid(p.pidFile);
  if (running !== undefined) {
    await waitUntil('Kafka Connect', () => connectAnswers(url), { timeoutMs: readyTimeoutMs, pid: running, logFile: p.logFile });
    return 'reused';
  }
  if (await isPortOpen(host, connectPort)) {
    throw new Error(`port ${host}:${connectPort} is in use by a process Eddy did not start: set EDDY_CONNECT_PORT to pick a free port`);
  }
  const java = requireCommand('java', 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless).');
  const libs = await installConnect(config);
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(p.properties, workerProperties(config, brokers, p));
  writeFileSync(p.log4j, log4jProperties);
  const args = [
    '-Xms256m', '-Xmx256m', '-XX:+UseParallelGC', '-XX:ParallelGCThreads=1', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${p.log4j}`,
    '-cp', join(libs, '*'), 'org.apache.kafka.connect.cli.ConnectStandalone', p.properties,
  ];
  const pid = startDaemon({ name: 'connect', command: java, args, pidFile: p.pidFile, logFile: p.logFile });
  logger.info({ serverPid: pid, url, log: p.logFile }, 'starting Kafka Connect');
  await waitUntil('Kafka Connect', () => connectAnswers(url), { timeoutMs: readyTimeoutMs, pid, logFile: p.logFile });
  return 'started';
}

export function stopConnect(config: EddyConfig): Promise<boolean> {
  return stopDaemon(paths(config).pidFile, 30_000);
}

export function connectPid(config: EddyConfig): number | undefined {
  return livePid(paths(config).pidFile);
}

/** What a Debezium PostgreSQL connector reads and where it writes. */
export interface PostgresConnectorOptions {
  /** The connector's name in Connect. */
  name: string;
  /** Debezium's `topic.prefix`: topics are `<prefix>.public.<table>`. */
  topicPrefix: string;
  /** The replication slot (one per connector; PostgreSQL keeps WAL for it until it reads). */
  slot: string;
  /** Partitions of the topics Connect creates (the job's task count). */
  partitions: number;
  /** Extra or overriding connector settings, e.g. `decimal.handling.mode`. */
  settings?: Record<string, string>;
}

/** The connector configuration for the local PostgreSQL's `ecommerce` database. */
export function postgresConnectorConfig(config: EddyConfig, options: PostgresConnectorOptions): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'plugin.name': 'pgoutput',
    'publication.name': 'eddy_ecommerce',
    'publication.autocreate.mode': 'disabled',
    'slot.name': options.slot,
    'database.hostname': config.local.host,
    'database.port': String(config.local.postgresPort),
    'database.user': postgresUser,
    'database.password': '',
    'database.dbname': postgresDatabase,
    'topic.prefix': options.topicPrefix,
    'table.include.list': 'public.users,public.products,public.orders,public.order_items',
    // Truncates too: the tables downstream must empty when a source table is truncated.
    'skipped.operations': 'none',
    'topic.creation.default.replication.factor': '1',
    'topic.creation.default.partitions': String(options.partitions),
    ...options.settings,
  };
}

/** Creates or updates a connector (PUT is idempotent) and waits until it and its task run. */
export async function registerConnector(config: EddyConfig, name: string, settings: Record<string, string>, timeoutMs = 60_000): Promise<void> {
  const url = connectUrl(config);
  const put = await fetch(`${url}/connectors/${encodeURIComponent(name)}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(settings) });
  if (!put.ok) throw new Error(`Kafka Connect refused connector '${name}': HTTP ${put.status} ${await put.text()}`);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const status = await fetch(`${url}/connectors/${encodeURIComponent(name)}/status`);
    if (status.ok) {
      const body = (await status.json()) as { connector: { state: string }; tasks: { state: string; trace?: string }[] };
      last = JSON.stringify(body).slice(0, 2_000);
      const failed = body.tasks.find((t) => t.state === 'FAILED');
      if (body.connector.state === 'FAILED' || failed !== undefined) throw new Error(`connector '${name}' failed: ${failed?.trace?.split('\n')[0] ?? last}`);
      if (body.connector.state === 'RUNNING' && body.tasks.length > 0 && body.tasks.every((t) => t.state === 'RUNNING')) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`connector '${name}' is not running after ${timeoutMs} ms: ${last}`);
}

/** Deletes a connector (nothing if there is none). Its replication slot stays in PostgreSQL. */
export async function deleteConnector(config: EddyConfig, name: string): Promise<void> {
  const response = await fetch(`${connectUrl(config)}/connectors/${encodeURIComponent(name)}`, { method: 'DELETE' });
  if (!response.ok && response.status !== 404) throw new Error(`Kafka Connect did not delete connector '${name}': HTTP ${response.status}`);
}

/** What a Debezium MariaDB connector reads and where it writes. */
export interface MysqlConnectorOptions {
  name: string;
  /** Debezium's `topic.prefix`: topics are `<prefix>.ecommerce.<table>` (database, then table). */
  topicPrefix: string;
  partitions: number;
  /** Kafka, for the connector's schema history topic `<prefix>.schema-history`. */
  brokers: string[];
  settings?: Record<string, string>;
}

/** The connector configuration for the local MariaDB's `ecommerce` database. */
export function mysqlConnectorConfig(config: EddyConfig, options: MysqlConnectorOptions): Record<string, string> {
  return {
    'connector.class': 'io.debezium.connector.mariadb.MariaDbConnector',
    'tasks.max': '1',
    'database.hostname': config.local.host,
    'database.port': String(config.local.mysqlPort),
    'database.user': mysqlUser,
    'database.password': '',
    'database.ssl.mode': 'disable',
    // A replication client id, unique per connector on the server.
    'database.server.id': String(5400 + (Number.parseInt(createHash('sha256').update(options.name).digest('hex').slice(0, 6), 16) % 100_000)),
    'topic.prefix': options.topicPrefix,
    'database.include.list': mysqlDatabase,
    'table.include.list': ['users', 'products', 'orders', 'order_items'].map((t) => `${mysqlDatabase}.${t}`).join(','),
    'schema.history.internal.kafka.bootstrap.servers': options.brokers.join(','),
    'schema.history.internal.kafka.topic': `${options.topicPrefix}.schema-history`,
    'include.schema.changes': 'false',
    'skipped.operations': 'none',
    'topic.creation.default.replication.factor': '1',
    'topic.creation.default.partitions': String(options.partitions),
    ...options.settings,
  };
}

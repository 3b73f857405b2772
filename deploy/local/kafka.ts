/**
 * A real Apache Kafka broker for local runs and tests: KRaft, one node acting as broker and
 * controller, jars resolved from Maven Central by Maven into a cache outside the repository
 * (no Docker, no tarball). Listens on loopback; the heap stays within 512 MB.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import type { EddyConfig } from '../../common/config.ts';
import '../../common/kafkajs-warning.ts';
import type { Logger } from '../../common/logger.ts';
import { mavenJars } from './first-run.ts';
import { isPortOpen, livePid, requireCommand, runOrThrow, startDaemon, stopDaemon, waitUntil } from './processes.ts';

export const kafkaVersion = '3.9.1';
const pomFile = fileURLToPath(new URL('./kafka/pom.xml', import.meta.url));
const readyTimeoutMs = 90_000;

interface KafkaPaths {
  libs: string;
  dir: string;
  data: string;
  properties: string;
  log4j: string;
  pidFile: string;
  logFile: string;
}

function paths(config: EddyConfig): KafkaPaths {
  const dir = join(config.local.stateDir, 'kafka');
  return {
    libs: join(config.local.cacheDir, `kafka-${kafkaVersion}`, 'libs'),
    dir,
    data: join(dir, 'data'),
    properties: join(dir, 'server.properties'),
    log4j: join(dir, 'log4j.properties'),
    pidFile: join(dir, 'kafka.pid'),
    logFile: join(dir, 'kafka.log'),
  };
}

/** Fetches the broker's jars with Maven unless they are cached already. */
export function installKafka(config: EddyConfig): Promise<string> {
  const { libs } = paths(config);
  return mavenJars(pomFile, libs, 'Kafka');
}

/**
 * An extra client listener on `port` whose metadata names `advertisedPort` instead: a client
 * that bootstraps through a proxy on `advertisedPort` then reaches the broker only through that
 * proxy (the chaos harness cuts one worker off from Kafka this way).
 */
export interface ProxiedListener {
  name: string;
  port: number;
  advertisedPort: number;
}

export interface KafkaStartOptions {
  proxiedListeners?: readonly ProxiedListener[];
  /** A SASL_PLAINTEXT listener (mechanism PLAIN) on `port` for these users and passwords: for tests of Eddy's SASL settings. */
  saslListener?: { port: number; users: Readonly<Record<string, string>> };
}

function serverProperties(config: EddyConfig, p: KafkaPaths, options: KafkaStartOptions): string {
  const { host, kafkaPort, kafkaControllerPort } = config.local;
  const extra = options.proxiedListeners ?? [];
  const sasl = options.saslListener;
  const saslLines = sasl === undefined ? [] : [
    'sasl.enabled.mechanisms=PLAIN',
    `listener.name.sasl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(sasl.users).map(([user, password]) => `user_${user}="${password}"`).join(' ')};`,
  ];
  const saslListener = sasl === undefined ? [] : [`SASL://${host}:${sasl.port}`];
  return [
    '# Written by deploy/local/kafka.ts on every start; edit that file, not this one.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${kafkaControllerPort}`,
    `listeners=${[`PLAINTEXT://${host}:${kafkaPort}`, `CONTROLLER://${host}:${kafkaControllerPort}`, ...extra.map((l) => `${l.name}://${host}:${l.port}`), ...saslListener].join(',')}`,
    `advertised.listeners=${[`PLAINTEXT://${host}:${kafkaPort}`, ...extra.map((l) => `${l.name}://${host}:${l.advertisedPort}`), ...saslListener].join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...extra.map((l) => `${l.name}:PLAINTEXT`), ...(sasl === undefined ? [] : ['SASL:SASL_PLAINTEXT'])].join(',')}`,
    ...saslLines,
    `log.dirs=${p.data}`,
    // One node: every internal topic has one replica, or transactions and groups never start.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    // Fewer internal partitions: the first transaction and group start in a second, not ten.
    'offsets.topic.num.partitions=8',
    'transaction.state.log.num.partitions=8',
    'group.initial.rebalance.delay.ms=0',
    // Topics are created on purpose (the generator and jobs do), so a typo fails loudly.
    'auto.create.topics.enable=false',
    'num.partitions=12',
    'log.retention.hours=24',
    'log.segment.bytes=268435456',
    '',
  ].join('\n');
}

const log4jProperties = [
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka=INFO',
  'log4j.logger.org.apache.kafka=INFO',
  'log4j.logger.state.change.logger=WARN',
  'log4j.logger.kafka.request.logger=WARN',
  '',
].join('\n');

/**
 * A KRaft cluster id: 16 random bytes, base64url without padding (what `kafka-storage
 * random-uuid` prints). Never one that starts with '-': the storage tool would read it as an
 * option and fail (1 start in 64; Kafka's own Uuid.randomUuid() draws again for the same reason).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function javaArgs(config: EddyConfig, p: KafkaPaths, mainClass: string, rest: string[]): string[] {
  return [
    // The throughput collector with one thread and a fixed heap: on this 2-core machine, G1's
    // concurrent threads and heap resizing took CPU from everything else. Measured at 10,000
    // events/s from a cold start, two runs each: broker 38-40 % of a core against 44-49 %.
    `-Xms${config.local.kafkaHeapMb}m`, `-Xmx${config.local.kafkaHeapMb}m`,
    '-XX:+UseParallelGC', '-XX:ParallelGCThreads=1', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${p.log4j}`,
    `-Dkafka.logs.dir=${p.dir}`,
    '-cp', join(p.libs, '*'),
    mainClass, ...rest,
  ];
}

/** True if the broker answers metadata requests with itself as a live broker. */
export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({ brokers, clientId: 'eddy-probe', logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * True once the broker also hosts partitions: a broker restarted on a big log directory answers
 * metadata requests before it has loaded its logs, and until then a topic created meanwhile stays
 * unknown to it ("This server does not host this topic-partition"). A one-partition probe topic
 * whose offsets can be read shows that the broker applies new topics.
 */
export async function kafkaServes(brokers: string[]): Promise<boolean> {
  const admin = new Kafka({ brokers, clientId: 'eddy-probe', logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    if ((await admin.describeCluster()).brokers.length === 0) return false;
    if (!(await admin.listTopics()).includes(probeTopic)) {
      await admin.createTopics({ topics: [{ topic: probeTopic, numPartitions: 1, replicationFactor: -1 }], waitForLeaders: false });
    }
    const offsets = await admin.fetchTopicOffsets(probeTopic);
    return offsets.length === 1;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

const probeTopic = 'eddy.local.probe';

export type StartOutcome = 'started' | 'reused';

/** Starts the local broker unless ours is already running, and waits until it hosts new partitions. */
export async function startKafka(config: EddyConfig, logger: Logger, options: KafkaStartOptions = {}): Promise<StartOutcome> {
  const p = paths(config);
  const { host, kafkaPort, kafkaControllerPort } = config.local;
  const brokers = [`${host}:${kafkaPort}`];
  const running = livePid(p.pidFile);
  if (running !== undefined) {
    await waitUntil('Kafka', () => kafkaServes(brokers), { timeoutMs: readyTimeoutMs, pid: running, logFile: p.logFile });
    return 'reused';
  }
  for (const port of [kafkaPort, kafkaControllerPort]) {
    if (await isPortOpen(host, port)) {
      throw new Error(
        `port ${host}:${port} is in use by a process Eddy did not start: set EDDY_KAFKA_BROKERS to use an existing Kafka, or EDDY_KAFKA_PORT to pick free ports (the controller takes the next one)`,
      );
    }
  }
  const java = requireCommand('java', 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless).');
  await installKafka(config);
  mkdirSync(p.data, { recursive: true });
  writeFileSync(p.properties, serverProperties(config, p, options));
  writeFileSync(p.log4j, log4jProperties);
  if (!existsSync(join(p.data, 'meta.properties'))) {
    runOrThrow('Kafka storage format', java, javaArgs(config, p, 'kafka.tools.StorageTool', [
      'format', '-t', newClusterId(), '-c', p.properties, '--ignore-formatted',
    ]));
  }
  const pid = startDaemon({ name: 'kafka', command: java, args: javaArgs(config, p, 'kafka.Kafka', [p.properties]), pidFile: p.pidFile, logFile: p.logFile });
  logger.info({ serverPid: pid, brokers, log: p.logFile }, 'starting Kafka');
  await waitUntil('Kafka', () => kafkaServes(brokers), { timeoutMs: readyTimeoutMs, pid, logFile: p.logFile });
  return 'started';
}

/** Stops the local broker if it runs; true if there was one to stop. */
export function stopKafka(config: EddyConfig): Promise<boolean> {
  return stopDaemon(paths(config).pidFile, 30_000);
}

export function kafkaPid(config: EddyConfig): number | undefined {
  return livePid(paths(config).pidFile);
}

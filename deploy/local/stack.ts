/**
 * The local stack: the real servers Eddy needs (Kafka, NATS), started on demand and shared by
 * `npm start`, `npm test` and `eddy stack`. Servers the config points elsewhere
 * (`EDDY_KAFKA_BROKERS`, `EDDY_NATS_URL`) are used as they are and never started here.
 */
import { kafkaBrokers, natsUrl, type EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { kafkaAnswers, kafkaPid, startKafka, stopKafka, type StartOutcome } from './kafka.ts';
import { natsAnswers, natsPid, startNats, stopNats } from './nats.ts';
import { connectAnswers, connectPid, connectUrl, stopConnect } from './connect.ts';
import { postgresAnswers, postgresPid, postgresUrl, stopPostgres } from './postgres.ts';
import { mysqlAnswers, mysqlPid, stopMysql } from './mysql.ts';

export type ServerName = 'kafka' | 'nats';
export type ServerOutcome = StartOutcome | 'external';

export interface LocalStack {
  brokers: string[];
  natsUrl: string;
  outcome: Record<ServerName, ServerOutcome>;
  /** Stops the servers this call started (not reused or external ones). Idempotent. */
  stopStarted(): Promise<void>;
}

/** Makes sure Kafka and NATS answer, starting local ones where none is configured. */
export async function ensureLocalStack(config: EddyConfig, logger: Logger, registerStop?: (stop: () => Promise<void>) => void): Promise<LocalStack> {
  const outcome: Record<ServerName, ServerOutcome> = { kafka: 'external', nats: 'external' };
  // Servers that were not running when this call began: this call starts them (or is starting them).
  const ours = new Set<ServerName>();
  const stack: LocalStack = {
    brokers: kafkaBrokers(config),
    natsUrl: natsUrl(config),
    outcome,
    stopStarted: async () => {
      const stopped: ServerName[] = [];
      if (ours.has('kafka') && (await stopKafka(config))) stopped.push('kafka');
      if (ours.has('nats') && (await stopNats(config))) stopped.push('nats');
      ours.clear();
      outcome.kafka = outcome.kafka === 'started' ? 'external' : outcome.kafka;
      outcome.nats = outcome.nats === 'started' ? 'external' : outcome.nats;
      if (stopped.length > 0) logger.info({ stopped }, `stopped ${stopped.join(' and ')}`);
    },
  };
  // Before anything starts: a Ctrl-C during a server's start must stop it too.
  registerStop?.(() => stack.stopStarted());
  try {
    // NATS first: it starts in milliseconds, Kafka's JVM takes seconds.
    if (config.nats.url === undefined) {
      if (natsPid(config) === undefined) ours.add('nats');
      outcome.nats = await startNats(config, logger);
      if (outcome.nats === 'reused') ours.delete('nats');
    } else await requireAnswer('NATS', stack.natsUrl, () => natsAnswers(stack.natsUrl));
    if (config.kafka.brokers === undefined) {
      if (kafkaPid(config) === undefined) ours.add('kafka');
      outcome.kafka = await startKafka(config, logger);
      if (outcome.kafka === 'reused') ours.delete('kafka');
    } else await requireAnswer('Kafka', stack.brokers.join(','), () => kafkaAnswers(stack.brokers));
  } catch (err) {
    await stack.stopStarted();
    throw err;
  }
  return stack;
}

async function requireAnswer(what: string, where: string, check: () => Promise<boolean>): Promise<void> {
  if (!(await check())) throw new Error(`${what} at ${where} (from the config) does not answer`);
}

/** Stops the local servers whoever started them (Kafka Connect and PostgreSQL too, when running). Idempotent. */
export async function stopLocalStack(config: EddyConfig): Promise<(ServerName | 'connect' | 'postgres' | 'mysql')[]> {
  const stopped: (ServerName | 'connect' | 'postgres' | 'mysql')[] = [];
  if (await stopConnect(config)) stopped.push('connect'); // first: it writes to Kafka and reads PostgreSQL
  if (await stopKafka(config)) stopped.push('kafka');
  if (await stopNats(config)) stopped.push('nats');
  if (await stopPostgres(config)) stopped.push('postgres');
  if (await stopMysql(config)) stopped.push('mysql');
  return stopped;
}

export interface ServerStatus {
  name: ServerName | 'connect' | 'postgres' | 'mysql';
  address: string;
  pid: number | undefined;
  external: boolean;
  answers: boolean;
}

export async function localStackStatus(config: EddyConfig): Promise<ServerStatus[]> {
  const brokers = kafkaBrokers(config);
  const url = natsUrl(config);
  return [
    { name: 'kafka', address: brokers.join(','), pid: kafkaPid(config), external: config.kafka.brokers !== undefined, answers: await kafkaAnswers(brokers) },
    { name: 'nats', address: url, pid: natsPid(config), external: config.nats.url !== undefined, answers: await natsAnswers(url) },
    { name: 'postgres', address: `${config.local.host}:${config.local.postgresPort}`, pid: postgresPid(config), external: false, answers: await postgresAnswers(postgresUrl(config, 'postgres')) },
    { name: 'mysql', address: `${config.local.host}:${config.local.mysqlPort}`, pid: mysqlPid(config), external: false, answers: await mysqlAnswers(config) },
    { name: 'connect', address: connectUrl(config), pid: connectPid(config), external: false, answers: await connectAnswers(connectUrl(config)) },
  ];
}

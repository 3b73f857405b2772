/**
 * kafkajs clients wired to Eddy's logger. kafkajs logs every failure it is about to retry at
 * ERROR (e.g. "group coordinator not available" while a fresh broker elects coordinators);
 * a failure that matters surfaces as a thrown error, so those lines go out at `warn`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry, type logCreator, type SASLOptions } from 'kafkajs';
import { processKafkaSecurity, type KafkaSecurity } from './connection-security.ts';
import './kafkajs-warning.ts';
import type { Logger } from './logger.ts';

// kafkajs 2 warns about its partitioner change on every producer; Eddy always uses the default.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR || level === logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.debug(fields, message);
      else logger.trace(fields, message);
    };
}

function kafkajsSasl({ mechanism, username, password }: NonNullable<KafkaSecurity['sasl']>): SASLOptions {
  switch (mechanism) {
    case 'plain':
      return { mechanism, username, password };
    case 'scram-sha-256':
      return { mechanism, username, password };
    case 'scram-sha-512':
      return { mechanism, username, password };
  }
}

/** A kafkajs client of `brokers`, with the process's TLS and SASL settings (connection-security.ts). */
export function createKafka(brokers: string[], clientId: string, logger: Logger): Kafka {
  const { tls, sasl } = processKafkaSecurity();
  return new Kafka({
    brokers,
    clientId,
    logLevel: logLevel.INFO,
    logCreator: pinoLogCreator(logger.child({ component: 'kafkajs' })),
    ...(tls !== undefined && { ssl: tls }),
    ...(sasl !== undefined && { sasl: kafkajsSasl(sasl) }),
  });
}

/**
 * Deletes every topic whose name contains `marker` (a run's inputs and outputs, and the commit and
 * dead-letter topics a job made for them); what cannot be listed or deleted is left, quietly.
 */
export async function deleteTopicsContaining(admin: Admin, marker: string): Promise<void> {
  const topics = (await admin.listTopics().catch(() => [] as string[])).filter((t) => t.includes(marker));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
}

/** {@link deleteTopicsContaining} with an admin client of its own. */
export async function deleteTopicsOf(kafka: Kafka, marker: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await deleteTopicsContaining(admin, marker);
  } finally {
    await admin.disconnect();
  }
}

/** Attempts of {@link createTopicsReady}, 200 ms × attempt apart (about 9 s in all). */
const createAttempts = 10;

/**
 * Creates `topics` (those that exist already are left alone) and returns once their metadata
 * answers. A broker started a moment ago can answer the metadata request kafkajs makes right
 * after creating (waitForLeaders) with UNKNOWN_TOPIC_OR_PARTITION, which kafkajs does not retry
 * there; retriable errors like that one are retried here.
 */
export async function createTopicsReady(admin: Admin, topics: ITopicConfig[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.createTopics({ topics, waitForLeaders: true });
      await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
      return;
    } catch (err) {
      if ((err as { retriable?: unknown }).retriable !== true || attempt >= createAttempts) throw err;
      await sleep(200 * attempt);
    }
  }
}

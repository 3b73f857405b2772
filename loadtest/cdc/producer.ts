/**
 * Writes the demo CDC stream into Kafka at a steady rate, standing in for a Debezium connector
 * in demos and load tests. Creates the four `<topicPrefix>.public.*` topics (default prefix
 * `ecommerce`) when absent, then sends
 * batches with an idempotent, acks=all producer, paced by a token bucket. kafkajs has no
 * `linger.ms`; the pacing tick (10–50 ms) is the linger: whatever the bucket grants per tick goes
 * out as one `sendBatch`.
 *
 * Record timestamps and `ts_ms` fields follow the wall clock by default (the simulated clock
 * starts now and advances 1/rate s per event), so windows and lag read sensibly downstream. Pass
 * `startTimeMs` for byte-identical runs.
 */
import type { Kafka, Message, Producer, TopicMessages } from 'kafkajs';
import { ensureError } from '../../common/errors.ts';
import { createKafka, createTopicsReady } from '../../common/kafka.ts';
import type { Logger } from '../../common/logger.ts';
import { generateCdcEvents, type CdcEvent } from './generator.ts';
import { DEFAULT_TOPIC_PREFIX, TABLE_NAMES, TOPIC_PREFIX_RULE, isValidTopicPrefix, topicOf } from './model.ts';
import { RunTally, type CdcRunStats } from './run-stats.ts';
import { systemClock, TokenBucket, type PacerClock } from './token-bucket.ts';

export type { CdcRunStats } from './run-stats.ts';

/** Options of {@link runCdcGenerator}. */
export type CdcProducerOptions = {
  brokers: string[];
  /** Target events per second (tombstones included). */
  rate: number;
  /** Stop after this many seconds; absent: run until `maxEvents` or abort. */
  durationSec?: number;
  /** Stop after this many events. */
  maxEvents?: number;
  seed: number;
  /** JsonConverter `schemas.enable`. */
  schemas: boolean;
  /** Partitions of topics this run creates. Default 12. */
  partitions?: number;
  replicaIdentityFull?: boolean;
  /** Debezium's `topic.prefix`: topics are `<topicPrefix>.public.<table>`. Default `ecommerce`. */
  topicPrefix?: string;
  /** Simulated time of the first event, ms since the epoch. Default: the wall clock at start. */
  startTimeMs?: number;
  /** Stops the run after the batch in flight. */
  signal?: AbortSignal;
  /** Called about once a second with the counts so far. */
  onProgress?: (stats: CdcRunStats) => void;
  logger: Logger;
  /** Pacing clock; the real one unless testing. */
  clock?: PacerClock;
};

/** How many ms of events the pacer may grant at once to catch up after a slow send. */
const BURST_MS = 250;
/** Most events in one `sendBatch`. */
const BATCH_EVENTS_MAX = 10_000;
const PROGRESS_INTERVAL_MS = 1000;

/**
 * Produces the demo CDC stream until the duration, the event count or the signal says stop.
 *
 * @returns what was produced (acknowledged by the broker)
 * @throws the first Kafka error, after disconnecting
 */
export async function runCdcGenerator(options: CdcProducerOptions): Promise<CdcRunStats> {
  validate(options);
  const kafka = createKafka(options.brokers, 'eddy-cdc-generator', options.logger);
  await ensureTopics(kafka, options.topicPrefix ?? DEFAULT_TOPIC_PREFIX, options.partitions ?? 12, options.logger);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  return closeAfter(
    async () => {
      await producer.connect();
      return produceCdcEvents(producer, options);
    },
    () => producer.disconnect(),
    options.logger,
  );
}

function validate(options: CdcProducerOptions): void {
  const positive = (name: string, value: number | undefined, integer: boolean): void => {
    if (value === undefined) return;
    if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) {
      throw new RangeError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
    }
  };
  positive('rate', options.rate, false);
  positive('durationSec', options.durationSec, false);
  positive('maxEvents', options.maxEvents, true);
  positive('partitions', options.partitions, true);
  if (options.brokers.length === 0) throw new RangeError('brokers must name at least one broker');
  if (options.topicPrefix !== undefined && !isValidTopicPrefix(options.topicPrefix)) {
    throw new RangeError(`topicPrefix must be ${TOPIC_PREFIX_RULE}, got '${options.topicPrefix}'`);
  }
}

/** Creates the topics that do not exist yet (replication factor 1: a demo stack has one broker). */
async function ensureTopics(kafka: Kafka, topicPrefix: string, partitions: number, logger: Logger): Promise<void> {
  const admin = kafka.admin();
  await closeAfter(async () => {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = TABLE_NAMES.map((table) => topicOf(topicPrefix, table)).filter((topic) => !existing.has(topic));
    if (missing.length === 0) return;
    const topics = missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 }));
    await createTopicsReady(admin, topics);
    logger.info({ topics: missing, partitions }, 'created CDC topics');
  }, () => admin.disconnect(), logger);
}

/** What {@link produceCdcEvents} needs: the pacing and stopping options, not the connection. */
export type CdcProduceOptions = Omit<CdcProducerOptions, 'brokers' | 'partitions' | 'logger'>;

/**
 * The produce loop of {@link runCdcGenerator} over an already connected producer: paces, sends
 * batches (acks=all), counts what the broker acknowledged and reports progress.
 */
export async function produceCdcEvents(producer: Pick<Producer, 'sendBatch'>, options: CdcProduceOptions): Promise<CdcRunStats> {
  const clock = options.clock ?? systemClock;
  const startMs = clock.nowMs();
  const deadlineMs = options.durationSec === undefined ? Infinity : startMs + options.durationSec * 1000;
  const maxEvents = options.maxEvents ?? Infinity;
  const events = generateCdcEvents({
    seed: options.seed,
    schemas: options.schemas,
    replicaIdentityFull: options.replicaIdentityFull ?? false,
    topicPrefix: options.topicPrefix ?? DEFAULT_TOPIC_PREFIX,
    startTimeMs: options.startTimeMs ?? Date.now(),
    eventIntervalMs: Math.max(0.001, 1000 / options.rate),
  });
  const bucket = new TokenBucket(options.rate, BURST_MS, clock);
  const tally = new RunTally(startMs);
  let progressMs = startMs;
  while (tally.count < maxEvents && clock.nowMs() < deadlineMs) {
    const granted = await bucket.take(Math.min(BATCH_EVENTS_MAX, maxEvents - tally.count), options.signal, deadlineMs);
    if (granted === 0) break;
    const batch = Array.from({ length: granted }, () => events.next().value);
    await producer.sendBatch({ acks: -1, topicMessages: byTopic(batch) });
    tally.add(batch);
    if (clock.nowMs() - progressMs >= PROGRESS_INTERVAL_MS) {
      progressMs = clock.nowMs();
      options.onProgress?.(tally.stats(progressMs));
    }
  }
  return tally.stats(clock.nowMs());
}

/** Groups a batch by topic, keeping each topic's order (and so each key's order). */
function byTopic(batch: readonly CdcEvent[]): TopicMessages[] {
  const messages = new Map<string, Message[]>();
  for (const event of batch) {
    let list = messages.get(event.topic);
    if (list === undefined) messages.set(event.topic, (list = []));
    list.push({ key: event.key, value: event.value, timestamp: String(event.timestampMs) });
  }
  return [...messages].map(([topic, topicMessages]) => ({ topic, messages: topicMessages }));
}

/** Runs `work`, then `close`; the first error wins, and a close error after it is only logged. */
async function closeAfter<T>(work: () => Promise<T>, close: () => Promise<void>, logger: Logger): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (thrown) {
    const failure = ensureError(thrown);
    await close().catch((closeError: unknown) => logger.warn({ err: ensureError(closeError) }, 'disconnect failed after an error'));
    throw failure;
  }
  try {
    await close();
  } catch (thrown) {
    throw ensureError(thrown);
  }
  return result;
}

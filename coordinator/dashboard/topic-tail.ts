/**
 * The latest records of the job's Kafka sinks and of its dead-letter topic, for the dashboard:
 * one read_committed consumer (what a downstream reader sees: exactly-once results appear when
 * their checkpoint's transaction commits), started a few records before each partition's end
 * so a page opened on a quiet job still shows its latest results.
 *
 * It reads only while someone watches (a dashboard page is connected, see {@link acquire}):
 * reading every output of a busy job costs the coordinator CPU that nobody would use, and would
 * take it from the workers on a small machine. It stops a while after the last page closes.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from '../../common/logger.ts';

export interface TailRecord {
  partition: number;
  offset: string;
  timestampMs: number;
  key: string | null;
  value: string | null;
  /** Headers as text (the dead-letter topic's `eddy.dlq.*` say why the record is there). */
  headers: Record<string, string>;
}

/** Longest key or value text kept per record. */
const textMax = 600;

/** How long the reader keeps going after the last page closed (a reload reconnects within it). */
const idleStopMs = 30_000;

export class TopicTail {
  private readonly latest = new Map<string, TailRecord[]>();
  private consumer: Consumer | undefined;
  private viewers = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly options: {
      kafka: Kafka;
      job: string;
      topics: readonly string[];
      /** Records kept per topic, newest first. */
      keep?: number;
      logger: Logger;
    },
  ) {
    for (const topic of options.topics) this.latest.set(topic, []);
  }

  /** A page watches: reading starts (if it was not running); call the returned function when it leaves. */
  acquire(): () => void {
    this.viewers += 1;
    clearTimeout(this.idleTimer);
    this.running ??= this.start().catch((err: unknown) => {
      this.running = undefined;
      this.options.logger.warn({ err: (err as Error).message }, 'dashboard: cannot read the job\'s results; the page shows none');
    });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.viewers -= 1;
      if (this.viewers > 0) return;
      this.idleTimer = setTimeout(() => void this.stop(), idleStopMs);
      this.idleTimer.unref();
    };
  }

  private async start(): Promise<void> {
    if (this.options.topics.length === 0) return;
    const keep = this.options.keep ?? 20;
    // A group of its own: a second coordinator's dashboard must see every partition too.
    const consumer = this.options.kafka.consumer({ groupId: `eddy.${this.options.job}.dashboard.${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 250 });
    this.consumer = consumer;
    await consumer.connect();
    for (const topic of this.options.topics) await consumer.subscribe({ topic, fromBeginning: false });
    const admin = this.options.kafka.admin();
    await admin.connect();
    const starts = new Map<string, { partition: number; offset: string }[]>();
    try {
      for (const topic of this.options.topics) {
        const offsets = await admin.fetchTopicOffsets(topic);
        const perPartition = Math.max(1, Math.ceil(keep / Math.max(1, offsets.length)));
        starts.set(topic, offsets.map((p) => ({ partition: p.partition, offset: String(BigInt(p.low) > BigInt(p.high) - BigInt(perPartition) ? BigInt(p.low) : BigInt(p.high) - BigInt(perPartition)) })));
      }
    } finally {
      await admin.disconnect();
    }
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ topic, partition, message }) => {
        const records = this.latest.get(topic);
        if (records === undefined) return Promise.resolve();
        records.unshift({
          partition,
          offset: message.offset,
          timestampMs: Number(message.timestamp),
          key: text(message.key),
          value: text(message.value),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, text(Array.isArray(v) ? v[0] : v) ?? ''])),
        });
        records.splice(keep);
        return Promise.resolve();
      },
    });
    for (const [topic, offsets] of starts) for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });
  }

  /** The latest records of each topic, newest first. */
  records(): Record<string, TailRecord[]> {
    return Object.fromEntries(this.latest);
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const consumer = this.consumer;
    await this.running;
    this.running = undefined;
    this.consumer = undefined;
    await consumer?.disconnect().catch((err: unknown) => this.options.logger.warn({ err: (err as Error).message }, 'dashboard: closing the results reader failed'));
  }
}

function text(bytes: Buffer | string | null | undefined): string | null {
  if (bytes === null || bytes === undefined) return null;
  const s = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  return s.length > textMax ? `${s.slice(0, textMax)}…` : s;
}

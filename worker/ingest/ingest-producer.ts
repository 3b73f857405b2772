/**
 * The producer the ingest endpoint writes with: @platformatic/kafka's idempotent producer
 * (acks=all, one request in flight, so a partition's events keep their order and a retried
 * request is not written twice), not kafkajs. Every ingested event is produced here and then
 * consumed and processed, so this client's CPU per record is paid on the hot path at full rate:
 * measured with `npx tsx loadtest/bench/kafka-client-cost.ts`, kafkajs spends about 20 µs of CPU
 * per produced record on this machine and this producer about 13 µs (docs/ARCHITECTURE.md,
 * "Dependencies"). The rest of the worker (consumer, transactions, admin) stays on kafkajs.
 *
 * An idempotent @platformatic/kafka producer retries without end while Kafka is unreachable;
 * `send` gives up after `timeoutMs` so the endpoint can answer 503. A write given up on may
 * still land later: the caller was told it failed, so it may send again (at-least-once from
 * the caller's side, as with any Kafka producer whose acknowledgement was lost).
 */
import { Producer, stringSerializers } from '@platformatic/kafka';
import type { IngestMessage } from './ingest-messages.ts';
import type { RecordProducer } from './produce-coalescer.ts';

export class KafkaUnavailableError extends Error {}

export class IngestProducer implements RecordProducer {
  private readonly producer: Producer<string, string, string, string>;

  constructor(brokers: readonly string[], clientId: string, private readonly timeoutMs = 15_000) {
    this.producer = new Producer({
      clientId,
      bootstrapBrokers: [...brokers],
      idempotent: true,
      autocreateTopics: false,
      serializers: stringSerializers,
    });
  }

  /** Gets the producer id from Kafka now, so a worker without Kafka fails at start, not at its first request. */
  async connect(): Promise<void> {
    await this.producer.initIdempotentProducer({});
  }

  /** Resolves once Kafka acknowledged every message; rejects after `timeoutMs` without that. */
  async send(messages: IngestMessage[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaUnavailableError(`Kafka did not acknowledge ${messages.length} events within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([this.producer.send({ messages }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

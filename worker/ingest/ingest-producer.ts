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
 * `send` gives up after `timeoutMs` so the endpoint can answer 503 (also while the producer is
 * still getting its producer id). A write given up on may
 * still land later: the caller was told it failed, so it may send again (at-least-once from
 * the caller's side, as with any Kafka producer whose acknowledgement was lost).
 */
import type { Producer } from '@platformatic/kafka';
import { processKafkaSecurity } from '../../common/connection-security.ts';
import type { IngestMessage } from './ingest-messages.ts';
import type { RecordProducer } from './produce-coalescer.ts';

export class KafkaUnavailableError extends Error {}

type Client = Producer<string, string, string, string>;

/** Eddy's SASL mechanism names as @platformatic/kafka spells them. */
const saslMechanisms = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

export class IngestProducer implements RecordProducer {
  private client: Client | undefined;
  private ready: Promise<Client> | undefined;
  private closed = false;

  constructor(private readonly brokers: readonly string[], private readonly clientId: string, private readonly timeoutMs = 15_000) {}

  /**
   * Loads the client library and gets a producer id from Kafka, so a worker without Kafka fails
   * at start, not at its first request. The library is imported here, not at module load:
   * importing it takes about a third of a second of CPU (it compiles its option schemas), which
   * processes that never ingest (the coordinator, `eddy up`, tests) need not pay. A failed
   * attempt is made again by the next `send`.
   */
  connect(): Promise<void> {
    return this.open().then(() => undefined);
  }

  private open(): Promise<Client> {
    this.ready ??= (async () => {
      const { Producer: KafkaProducer, stringSerializers } = await import('@platformatic/kafka');
      if (this.closed) throw new KafkaUnavailableError('the ingest producer is closed');
      const { tls, sasl } = processKafkaSecurity();
      const client: Client = new KafkaProducer({
        clientId: this.clientId,
        bootstrapBrokers: [...this.brokers],
        idempotent: true,
        autocreateTopics: false,
        serializers: stringSerializers,
        ...(tls !== undefined && { tls: tls === true ? {} : tls }),
        ...(sasl !== undefined && { sasl: { mechanism: saslMechanisms[sasl.mechanism], username: sasl.username, password: sasl.password } }),
      });
      this.client = client;
      await client.initIdempotentProducer({});
      return client;
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Resolves once Kafka acknowledged every message; rejects after `timeoutMs` without that. */
  async send(messages: IngestMessage[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaUnavailableError(`Kafka did not acknowledge ${messages.length} events within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    const sent = this.open().then((client) => client.send({ messages }));
    sent.catch(() => undefined); // a late failure after the timeout answered is not unhandled
    try {
      await Promise.race([sent, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.close();
  }
}

/**
 * Everything a worker needs for synchronous ingest: the producer the endpoint writes with, the
 * requests waiting for acks, and the NATS channel acks travel on (both directions: this
 * worker's tasks send acks to whichever node ingested an event; this node receives its own).
 */
import type { FastifyInstance } from 'fastify';
import type { Admin } from 'kafkajs';
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { AckChannel } from './ack-channel.ts';
import type { WaitFor } from './ingest-ref.ts';
import { keyPartitioner, type KeyPartitioner } from './ingest-messages.ts';
import { IngestProducer } from './ingest-producer.ts';
import { registerIngestRoute } from './ingest-route.ts';
import { PendingRequests } from './pending-requests.ts';
import { ProduceCoalescer } from './produce-coalescer.ts';

export interface IngestServiceOptions {
  node: string;
  job: string;
  topics: ReadonlySet<string>;
  /** Bootstrap brokers of the ingest producer. */
  brokers: readonly string[];
  /** A connected admin client (partition counts of the source topics). */
  admin: Admin;
  natsUrl: string;
  limits: EddyConfig['ingest'];
  logger: Logger;
  observe?(wait: WaitFor, status: number, events: number, seconds: number): void;
  /** Acks received for this node's requests (metrics). */
  acksReceived?(count: number): void;
}

export class IngestService {
  readonly pending = new PendingRequests();
  private readonly producer: IngestProducer;
  private readonly coalescer: ProduceCoalescer;
  private readonly partitioners = new Map<string, Promise<KeyPartitioner>>();

  private constructor(private readonly options: IngestServiceOptions, readonly acks: AckChannel) {
    this.producer = new IngestProducer(options.brokers, `eddy-ingest-${options.node}`);
    this.coalescer = new ProduceCoalescer(this.producer);
  }

  static async start(options: IngestServiceOptions): Promise<IngestService> {
    const acks = await AckChannel.connect(options.natsUrl, `eddy-${options.node}`, options.logger);
    const service = new IngestService(options, acks);
    // Before the worker joins: importing the client takes a few hundred ms of CPU on the event
    // loop, which must not fall into a lease.
    await service.producer.connect();
    acks.listen(options.node, service.pending, (count) => options.acksReceived?.(count));
    return service;
  }

  register(app: FastifyInstance): void {
    registerIngestRoute(app, {
      node: this.options.node,
      job: this.options.job,
      topics: this.options.topics,
      producer: this.coalescer,
      partitionerOf: (topic) => this.partitionerOf(topic),
      pending: this.pending,
      eventsMax: this.options.limits.eventsMax,
      timeoutMsDefault: this.options.limits.timeoutMsDefault,
      timeoutMsMax: this.options.limits.timeoutMsMax,
      logger: this.options.logger,
      observe: (wait, status, events, seconds) => this.options.observe?.(wait, status, events, seconds),
    });
  }

  /** Looked up once per topic (a failed look-up is tried again by the next request). */
  private partitionerOf(topic: string): Promise<KeyPartitioner> {
    let partitioner = this.partitioners.get(topic);
    if (partitioner === undefined) {
      partitioner = this.options.admin.fetchTopicMetadata({ topics: [topic] }).then(({ topics }) => {
        const count = topics[0]?.partitions.length ?? 0;
        if (count === 0) throw new Error(`topic '${topic}' has no partitions`);
        return keyPartitioner(topic, count);
      });
      partitioner.catch(() => this.partitioners.delete(topic));
      this.partitioners.set(topic, partitioner);
    }
    return partitioner;
  }

  async stop(): Promise<void> {
    this.pending.failAll(new Error('worker stopping'));
    await this.producer.close();
    await this.acks.close();
  }
}

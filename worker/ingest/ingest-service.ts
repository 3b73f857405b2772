/**
 * Everything a worker needs for synchronous ingest: the producer the endpoint writes with, the
 * requests waiting for acks, and the NATS channel acks travel on (both directions: this
 * worker's tasks send acks to whichever node ingested an event; this node receives its own).
 */
import type { FastifyInstance } from 'fastify';
import type { Kafka, Producer } from 'kafkajs';
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { AckChannel } from './ack-channel.ts';
import type { WaitFor } from './ingest-ref.ts';
import { registerIngestRoute } from './ingest-route.ts';
import { PendingRequests } from './pending-requests.ts';

export interface IngestServiceOptions {
  node: string;
  job: string;
  topics: ReadonlySet<string>;
  kafka: Kafka;
  natsUrl: string;
  limits: EddyConfig['ingest'];
  logger: Logger;
  observe?(wait: WaitFor, status: number, events: number, seconds: number): void;
  /** Acks received for this node's requests (metrics). */
  acksReceived?(count: number): void;
}

export class IngestService {
  readonly pending = new PendingRequests();
  private readonly producer: Producer;

  private constructor(private readonly options: IngestServiceOptions, readonly acks: AckChannel) {
    this.producer = options.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  }

  static async start(options: IngestServiceOptions): Promise<IngestService> {
    const acks = await AckChannel.connect(options.natsUrl, `eddy-${options.node}`, options.logger);
    const service = new IngestService(options, acks);
    await service.producer.connect();
    acks.listen(options.node, service.pending, (count) => options.acksReceived?.(count));
    return service;
  }

  register(app: FastifyInstance): void {
    registerIngestRoute(app, {
      node: this.options.node,
      job: this.options.job,
      topics: this.options.topics,
      producer: this.producer,
      pending: this.pending,
      eventsMax: this.options.limits.eventsMax,
      timeoutMsDefault: this.options.limits.timeoutMsDefault,
      timeoutMsMax: this.options.limits.timeoutMsMax,
      logger: this.options.logger,
      observe: (wait, status, events, seconds) => this.options.observe?.(wait, status, events, seconds),
    });
  }

  async stop(): Promise<void> {
    this.pending.failAll(new Error('worker stopping'));
    await this.producer.disconnect();
    await this.acks.close();
  }
}

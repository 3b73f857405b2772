/**
 * Acks over NATS. The sending side batches: acks handed over in one turn of the event loop go
 * out as one message per target node (a task's batch of 500 records costs a few messages, not
 * 500). The receiving side feeds them to the node's PendingRequests. Acks for this process's
 * own requests (its tasks handled events its endpoint took in) are delivered directly, in the
 * same batched turn, without a round trip through NATS.
 */
import { connect, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import { natsConnectAuth } from '../../common/nats-auth.ts';
import type { Logger } from '../../common/logger.ts';
import { ackSubject, type AckBatch, type IngestRef } from './ingest-ref.ts';
import type { PendingRequests } from './pending-requests.ts';

const codec = JSONCodec<AckBatch>();

export class AckChannel {
  private outgoing = new Map<string, Map<string, number[]>>();
  private flushScheduled = false;
  private subscription: Subscription | undefined;
  /** This node's own requests: their acks skip NATS. */
  private local: { node: string; deliver(batch: AckBatch): void } | undefined;

  private constructor(private readonly nc: NatsConnection, private readonly logger: Logger) {}

  static async connect(url: string, name: string, logger: Logger): Promise<AckChannel> {
    return new AckChannel(await connect({ servers: url, name, maxReconnectAttempts: -1, ...natsConnectAuth() }), logger);
  }

  /** Delivers acks addressed to `node` into `pending` (acks this process sends itself never touch NATS). */
  listen(node: string, pending: PendingRequests, received?: (acks: number) => void): void {
    const deliver = (batch: AckBatch): void => {
      let count = 0;
      for (const { r, i } of batch) {
        pending.ack(r, i);
        for (let k = 0; k + 1 < i.length; k += 2) count += (i[k + 1] ?? 0) - (i[k] ?? 0) + 1;
      }
      received?.(count);
    };
    this.local = { node, deliver };
    this.subscription = this.nc.subscribe(ackSubject(node), {
      callback: (err, message) => {
        if (err !== null) {
          this.logger.warn({ err: err.message }, 'ack subscription error');
          return;
        }
        deliver(codec.decode(message.data));
      },
    });
  }

  /** Queues acks; they are sent together at the end of this turn. */
  send(refs: readonly IngestRef[]): void {
    for (const ref of refs) {
      let byRequest = this.outgoing.get(ref.node);
      if (byRequest === undefined) this.outgoing.set(ref.node, (byRequest = new Map<string, number[]>()));
      const runs = byRequest.get(ref.request);
      if (runs === undefined) byRequest.set(ref.request, [ref.first, ref.last]);
      else runs.push(ref.first, ref.last);
    }
    if (!this.flushScheduled && refs.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  async close(): Promise<void> {
    this.flush();
    this.subscription?.unsubscribe();
    await this.nc.drain();
  }

  private flush(): void {
    this.flushScheduled = false;
    const outgoing = this.outgoing;
    this.outgoing = new Map();
    for (const [node, byRequest] of outgoing) {
      const batch: AckBatch = [...byRequest].map(([r, i]) => ({ r, i }));
      if (node === this.local?.node) this.local.deliver(batch);
      else this.nc.publish(ackSubject(node), codec.encode(batch));
    }
  }
}

/**
 * The ingest endpoint's writes to Kafka, coalesced: while one produce request is in flight,
 * the requests that arrive wait and then go out together as ONE produce request, instead of
 * queueing one by one behind it (the idempotent producer keeps one request in flight per
 * connection). Nothing waits for a timer: an idle endpoint sends at once. Each caller's
 * messages stay together and in order, so a partition's run of one HTTP request stays a
 * contiguous run (ingest-ref.ts relies on that). If the shared request fails, every caller in
 * it gets the error.
 */
import type { IngestMessage } from './ingest-messages.ts';

/** What the coalescer writes with: one produce request per call, resolved once acked (acks=all). */
export interface RecordProducer {
  send(messages: IngestMessage[]): Promise<void>;
}

type Waiting = { messages: IngestMessage[]; resolve(): void; reject(err: unknown): void };

export class ProduceCoalescer {
  private waiting: Waiting[] = [];
  private sending = false;

  /** @param messagesMax the most messages one produce request carries (one caller's are never split) */
  constructor(private readonly producer: RecordProducer, private readonly messagesMax = 5_000) {}

  /** Resolves once Kafka acknowledged `messages` (acks=all). */
  send(messages: IngestMessage[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ messages, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.sending = true;
    while (this.waiting.length > 0) {
      const batch = this.take();
      try {
        await this.producer.send(batch.flatMap((w) => w.messages));
        for (const w of batch) w.resolve();
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    this.sending = false;
  }

  /** The next callers to send, at least one, up to `messagesMax` messages. */
  private take(): Waiting[] {
    let count = 0;
    let n = 0;
    while (n < this.waiting.length && (n === 0 || count + (this.waiting[n]?.messages.length ?? 0) <= this.messagesMax)) {
      count += this.waiting[n]?.messages.length ?? 0;
      n += 1;
    }
    return this.waiting.splice(0, n);
  }
}

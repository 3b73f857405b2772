/**
 * A worker's at-least-once sinks besides Kafka: NATS subjects and HTTP endpoints
 * (job/contract/job.ts, `NatsSink` and `HttpSink`, says what each guarantees). Outputs are
 * published in the order emitted, one sink after another, and `publish` resolves once every one
 * is acknowledged (NATS: flushed to the server, or JetStream's ack; HTTP: a 2xx answer). HTTP
 * outputs refused for good come back as dead letters for the caller to publish.
 */
import { connect, headers as natsHeaders, type JetStreamClient, type NatsConnection } from 'nats';
import { natsConnectAuth } from '../common/nats-auth.ts';
import type { Logger } from '../common/logger.ts';
import type { HttpSink, JobDefinition, NatsSink } from '../job/contract/job.ts';
import type { DeadLetter, OutputRecord } from './thread-protocol.ts';

export class NotifySinks {
  private nats: NatsConnection | undefined;
  private jetstream: JetStreamClient | undefined;
  readonly names: ReadonlySet<string>;

  constructor(
    private readonly job: JobDefinition,
    private readonly natsUrl: string,
    private readonly logger: Logger,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.names = new Set(Object.entries(job.sinks).flatMap(([name, sink]) => (sink.kind === 'nats' || sink.kind === 'http' ? [name] : [])));
  }

  async start(): Promise<void> {
    if (Object.values(this.job.sinks).some((s) => s.kind === 'nats')) {
      this.nats = await connect({ servers: this.natsUrl, name: `eddy ${this.job.name} notify`, maxReconnectAttempts: -1, ...natsConnectAuth() });
      this.jetstream = this.nats.jetstream();
    }
  }

  async stop(): Promise<void> {
    await this.nats?.drain().catch(() => undefined);
    this.nats = undefined;
  }

  /** Publishes the outputs of these sinks, in order; returns the ones refused for good. */
  async publish(outputs: readonly OutputRecord[]): Promise<DeadLetter[]> {
    const refused: DeadLetter[] = [];
    let flush = false;
    for (const output of outputs) {
      const sink = this.job.sinks[output.sink];
      if (sink?.kind === 'nats') flush = (await this.toNats(sink, output)) || flush;
      else if (sink?.kind === 'http') {
        const letter = await this.toHttp(sink, output);
        if (letter !== undefined) refused.push(letter);
      }
    }
    if (flush) await this.nats?.flush();
    return refused;
  }

  /** True when the publish still needs a flush (core NATS); JetStream publishes wait for their ack. */
  private async toNats(sink: NatsSink, output: OutputRecord): Promise<boolean> {
    if (this.nats === undefined || this.jetstream === undefined) throw new Error('NATS sinks used before start()');
    const h = natsHeaders();
    if (output.key !== null) h.set('Eddy-Key', output.key);
    for (const [name, value] of Object.entries(output.headers ?? {})) h.set(name, value);
    const payload = new TextEncoder().encode(output.value ?? '');
    if (sink.jetstream === true) {
      await this.jetstream.publish(sink.subject, payload, { headers: h });
      return false;
    }
    this.nats.publish(sink.subject, payload, { headers: h });
    return true;
  }

  private async toHttp(sink: HttpSink, output: OutputRecord): Promise<DeadLetter | undefined> {
    const attempts = sink.attempts ?? 8;
    let delayMs = 100;
    for (let attempt = 1; ; attempt++) {
      let failure: string;
      try {
        const response = await fetch(sink.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(output.key === null ? {} : { 'eddy-key': output.key }), ...sink.headers },
          body: output.value ?? 'null',
          signal: AbortSignal.timeout(sink.timeoutMs ?? 10_000),
        });
        if (response.ok) {
          await response.body?.cancel();
          return undefined;
        }
        const body = (await response.text()).slice(0, 500);
        failure = `HTTP ${response.status}${body === '' ? '' : `: ${body}`}`;
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          return deadLetter(sink, output, `${sink.url} refused the output: ${failure}`);
        }
      } catch (err) {
        failure = (err as Error).message;
      }
      if (attempt >= attempts) throw new Error(`HTTP sink ${sink.url}: ${attempts} attempts failed, the last with ${failure}`);
      this.logger.warn({ url: sink.url, attempt, err: failure, retryInMs: delayMs }, 'HTTP sink: POST failed; retrying');
      await this.sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
}

function deadLetter(sink: HttpSink, output: OutputRecord, reason: string): DeadLetter {
  const encoder = new TextEncoder();
  return {
    source: { topic: `http:${sink.url}`, partition: -1, offset: '-1', timestamp: output.timestamp ?? Date.now(), key: output.key === null ? null : encoder.encode(output.key), value: output.value === null ? null : encoder.encode(output.value), headers: output.headers },
    field: '',
    reason,
  };
}

/**
 * `natsSink` and `httpSink`: where a job's notifications go (alerts, webhooks), at-least-once
 * (worker/notify-sinks.ts publishes them; the README's "Delivery guarantees" says what that means).
 */
import type { HttpSink, NatsSink } from '../contract/job.ts';

/** A NATS subject; `jetstream: true` waits for a JetStream stream's ack on each publish. */
export function natsSink(subject: string, options: { jetstream?: boolean } = {}): NatsSink {
  return Object.freeze(options.jetstream === true ? { kind: 'nats', subject, delivery: 'at-least-once', jetstream: true } : { kind: 'nats', subject, delivery: 'at-least-once' });
}

/** Options of {@link httpSink}. */
export interface HttpSinkOptions {
  /** Extra request headers (e.g. an Authorization header read from the environment). */
  headers?: Record<string, string>;
  /** Attempts per output on transient failures (default 8). */
  attempts?: number;
  /** Per request timeout (default 10,000 ms). */
  timeoutMs?: number;
}

/** An HTTP(S) endpoint that takes each output as a JSON POST. */
export function httpSink(url: string, options: HttpSinkOptions = {}): HttpSink {
  const sink: { -readonly [K in keyof HttpSink]: HttpSink[K] } = { kind: 'http', url, delivery: 'at-least-once' };
  if (options.headers !== undefined) sink.headers = Object.freeze({ ...options.headers });
  if (options.attempts !== undefined) sink.attempts = options.attempts;
  if (options.timeoutMs !== undefined) sink.timeoutMs = options.timeoutMs;
  return Object.freeze(sink);
}

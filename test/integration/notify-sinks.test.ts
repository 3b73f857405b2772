/**
 * The at-least-once notification sinks against the real parts: NATS (the test stack's server,
 * core and JetStream) and an HTTP server the test runs on loopback. Outputs arrive in order with
 * their key; JetStream publishes wait for the stream's ack; HTTP retries transient failures,
 * dead-letters a permanent refusal with the status and body, and fails the publish (so the task
 * restarts) when the attempts run out.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { defineJob, httpSink, json, kafkaSource, keyedActor, natsSink } from '../../job/api.ts';
import { NotifySinks } from '../../worker/notify-sinks.ts';
import type { OutputRecord } from '../../worker/thread-protocol.ts';
import { uniqueName } from './support.ts';

const logger = createLogger('test-notify', 'error');
const subject = uniqueName('eddy.test.alerts').replace(/-/g, '_');

describe('NATS and HTTP sinks (real NATS, a real HTTP server)', () => {
  let nc: NatsConnection;
  let server: Server;
  let url: string;
  /** What the HTTP server answers next, per request, and what it got. */
  const answers: number[] = [];
  const received: { key: string | undefined; body: string; auth: string | undefined }[] = [];
  beforeAll(async () => {
    nc = await connect({ servers: inject('natsUrl') });
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const status = answers.shift() ?? 200;
        if (status === 200) received.push({ key: req.headers['eddy-key'] as string | undefined, body, auth: req.headers.authorization });
        res.writeHead(status).end(status === 200 ? '' : `status ${status} for you`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    await nc?.drain();
    await new Promise((resolve) => server?.close(resolve));
  });

  const jobWith = (sinks: Parameters<typeof defineJob>[0]['sinks']) =>
    defineJob({ name: uniqueName('notify-job'), sources: { in: kafkaSource('in', { format: json() }) }, sinks, actors: { a: keyedActor({ from: 'in', key: () => 'k', initial: () => null, onRecord: () => undefined }) } });
  const out = (sink: string, key: string, value: unknown): OutputRecord => ({ sink, key, value: JSON.stringify(value) });

  it('publishes to a NATS subject in order with the key, and through JetStream with its ack', async () => {
    const sc = StringCodec();
    const got: { key: string | undefined; value: string }[] = [];
    const sub = nc.subscribe(subject);
    const reading = (async () => {
      for await (const m of sub) {
        got.push({ key: m.headers?.get('Eddy-Key'), value: sc.decode(m.data) });
        if (got.length === 3) break;
      }
    })();
    const streamSubject = `${subject}_js`;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: streamSubject.replace(/\./g, '_'), subjects: [streamSubject] });
    const sinks = new NotifySinks(jobWith({ alerts: natsSink(subject), durable: natsSink(streamSubject, { jetstream: true }) }), inject('natsUrl'), logger);
    await sinks.start();
    try {
      expect(await sinks.publish([out('alerts', '7', { level: 'low' }), out('durable', '7', { n: 1 }), out('alerts', '8', { level: 'critical' }), out('alerts', '7', { level: 'out_of_stock' })])).toEqual([]);
      await reading;
      expect(got).toEqual([
        { key: '7', value: '{"level":"low"}' },
        { key: '8', value: '{"level":"critical"}' },
        { key: '7', value: '{"level":"out_of_stock"}' },
      ]);
      const info = await jsm.streams.info(streamSubject.replace(/\./g, '_'));
      expect(info.state.messages).toBe(1);
    } finally {
      await sinks.stop();
      await jsm.streams.delete(streamSubject.replace(/\./g, '_'));
    }
  });

  it('POSTs each output as JSON, retries transient failures, and dead-letters a permanent refusal with its reason', async () => {
    const sleeps: number[] = [];
    const sinks = new NotifySinks(jobWith({ hook: httpSink(url, { headers: { authorization: 'Bearer test-token' }, attempts: 4 }) }), inject('natsUrl'), logger, (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    });
    await sinks.start();
    answers.push(503, 429, 200, 400, 200);
    const refused = await sinks.publish([out('hook', 'a', { n: 1 }), out('hook', 'b', { n: 2 }), out('hook', 'c', { n: 3 })]);
    expect(received).toEqual([
      { key: 'a', body: '{"n":1}', auth: 'Bearer test-token' },
      { key: 'c', body: '{"n":3}', auth: 'Bearer test-token' },
    ]);
    expect(sleeps).toEqual([100, 200]); // exponential backoff for the 503 and the 429
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toBe(`${url} refused the output: HTTP 400: status 400 for you`);
    expect(Buffer.from(refused[0]?.source.value ?? []).toString()).toBe('{"n":2}');
    expect(refused[0]?.source.topic).toBe(`http:${url}`);
    // Down for longer than the attempts: the publish fails (the task restarts and sends it again).
    answers.push(500, 502, 503, 504);
    await expect(sinks.publish([out('hook', 'd', { n: 4 })])).rejects.toThrow(`HTTP sink ${url}: 4 attempts failed, the last with HTTP 504: status 504 for you`);
    await sinks.stop();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { inject } from 'vitest';
import { uniqueName } from './support.ts';

describe('real NATS', () => {
  const codec = StringCodec();
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connect({ servers: inject('natsUrl') });
  });
  afterAll(async () => {
    await nc.drain();
  });

  it('answers a request through a responder', async () => {
    const subject = uniqueName('eddy.test.echo');
    const responder = nc.subscribe(subject);
    void (async () => {
      for await (const m of responder) m.respond(codec.encode(`echo:${codec.decode(m.data)}`));
    })();

    const reply = await nc.request(subject, codec.encode('ping'), { timeout: 2_000 });

    expect(codec.decode(reply.data)).toBe('echo:ping');
    responder.unsubscribe();
  });

  it('fails a request nobody answers instead of hanging', async () => {
    await expect(nc.request(uniqueName('eddy.test.nobody'), codec.encode('x'), { timeout: 500 })).rejects.toThrow();
  });

  it('stores and replays messages with JetStream', async () => {
    const stream = uniqueName('EDDY_TEST').replace(/-/g, '_');
    const subject = `${stream.toLowerCase()}.events`;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: stream, subjects: [subject] });
    try {
      const js = nc.jetstream();
      for (let i = 0; i < 5; i++) await js.publish(subject, codec.encode(String(i)));
      await jsm.consumers.add(stream, { durable_name: 'reader', ack_policy: 'explicit' as never });
      const consumer = await js.consumers.get(stream, 'reader');
      const batch = await consumer.fetch({ max_messages: 5, expires: 2_000 });
      const seen: string[] = [];
      for await (const m of batch) {
        seen.push(codec.decode(m.data));
        m.ack();
      }
      expect(seen).toEqual(['0', '1', '2', '3', '4']);
    } finally {
      await jsm.streams.delete(stream);
    }
  });
});

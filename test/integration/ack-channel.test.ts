import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { createLogger } from '../../common/logger.ts';
import { AckChannel } from '../../worker/ingest/ack-channel.ts';
import { ackSubject } from '../../worker/ingest/ingest-ref.ts';
import { PendingRequests } from '../../worker/ingest/pending-requests.ts';
import { uniqueName } from './support.ts';

describe('AckChannel on real NATS', () => {
  const logger = createLogger('test', 'warn');
  let a: AckChannel;
  let b: AckChannel;
  let spy: NatsConnection;
  const node = { a: uniqueName('node-a'), b: uniqueName('node-b') };
  const pending = { a: new PendingRequests(), b: new PendingRequests() };
  const received = { a: 0, b: 0 };

  beforeAll(async () => {
    a = await AckChannel.connect(inject('natsUrl'), node.a, logger);
    b = await AckChannel.connect(inject('natsUrl'), node.b, logger);
    a.listen(node.a, pending.a, (n) => (received.a += n));
    b.listen(node.b, pending.b, (n) => (received.b += n));
    spy = await connect({ servers: inject('natsUrl') });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close(), spy.drain()]);
  });

  it('carries acks to the node that took the request in over NATS, and delivers its own directly', async () => {
    const seen: string[] = [];
    spy.subscribe(ackSubject(node.a), { callback: (_err, msg) => seen.push(msg.string()) });
    await spy.flush();
    const remote = pending.a.wait('remote', 5, 5_000);
    const own = pending.a.wait('own', 3, 5_000);
    b.send([{ node: node.a, request: 'remote', first: 0, last: 1, wait: 'processed' }, { node: node.a, request: 'remote', first: 2, last: 4, wait: 'processed' }]);
    a.send([{ node: node.a, request: 'own', first: 0, last: 2, wait: 'processed' }]);
    await Promise.all([remote, own]);
    expect(received.a).toBe(8);
    await spy.flush();
    expect(seen).toEqual([JSON.stringify([{ r: 'remote', i: [0, 1, 2, 4] }])]); // the own request's acks never went out
  });
});

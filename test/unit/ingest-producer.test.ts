import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { IngestProducer, KafkaUnavailableError } from '../../worker/ingest/ingest-producer.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('IngestProducer', () => {
  it('gives up on a write Kafka does not acknowledge in time, with an error saying so, and closes', async () => {
    const producer = new IngestProducer([`127.0.0.1:${await closedPort()}`], 'eddy-test-ingest', 300);
    const started = Date.now();
    await expect(producer.send([{ topic: 't', key: 'k', value: 'v', partition: 0 }])).rejects.toThrow(KafkaUnavailableError);
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(producer.send([{ topic: 't', value: 'v', partition: 0 }])).rejects.toThrow('Kafka did not acknowledge 1 events within 300 ms');
    await producer.close();
  });
});

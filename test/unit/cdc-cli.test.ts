import { describe, it, expect } from 'vitest';
import { cdcGeneratorCommand, progressLine, summaryLine } from '../../loadtest/cdc/cli.ts';

async function parseError(args: string[]): Promise<string> {
  let stderr = '';
  const command = cdcGeneratorCommand(() => Promise.reject(new Error('brokers must not be resolved')))
    .exitOverride()
    .configureOutput({ writeErr: (text) => (stderr += text) });
  await expect(command.parseAsync(args, { from: 'user' })).rejects.toThrow();
  return stderr;
}

describe('generate command', () => {
  it.each([
    [['--rate', '0'], '--rate must be a positive integer'],
    [['--rate', '1.5'], '--rate must be a positive integer'],
    [['--duration', 'ten'], '--duration must be a positive integer'],
    [['--max-events', '-3'], '--max-events must be a positive integer'],
    [['--partitions', '0'], '--partitions must be a positive integer'],
    [['--seed', '4294967296'], '--seed must be an integer'],
    [['--brokers', 'localhost'], '--brokers must be a comma-separated list'],
    [['--topic-prefix', ''], '--topic-prefix must be non-empty'],
    [['--topic-prefix', 'shop 7'], '--topic-prefix must be'],
    [['--topic-prefix', 'shop:7'], '--topic-prefix must be'],
  ])('rejects %j naming the flag', async (args, message) => {
    expect(await parseError(args)).toContain(message);
  });

  it('defaults to schemas on and lets --no-schemas turn them off', () => {
    const command = cdcGeneratorCommand(() => Promise.resolve([]));
    command.parseOptions(['--no-schemas']);
    expect(command.opts()).toMatchObject({ schemas: false, rate: 1000, seed: 1, partitions: 12 });
    const plain = cdcGeneratorCommand(() => Promise.resolve([]));
    plain.parseOptions([]);
    expect(plain.opts()).toMatchObject({ schemas: true, topicPrefix: 'ecommerce' });
  });

  it('accepts a Kafka-legal --topic-prefix', () => {
    const command = cdcGeneratorCommand(() => Promise.resolve([]));
    command.parseOptions(['--topic-prefix', 'Shop_7.eu-west']);
    expect(command.opts()).toMatchObject({ topicPrefix: 'Shop_7.eu-west' });
  });

  it('formats progress and summary lines', () => {
    const stats = { events: 3000, bytes: 2_500_000, elapsedMs: 3000, eventsPerSec: 1000, byTable: { users: 3000 }, byOp: { c: 3000 } };
    expect(progressLine({ ...stats, events: 2000, elapsedMs: 2000 }, stats)).toBe('1000 events/s (avg 1000), 3000 events, 2.5 MB');
    expect(summaryLine(stats)).toBe('generated 3000 events (2.5 MB) in 3.0 s, 1000 events/s; ops: c=3000; tables: users=3000');
  });
});

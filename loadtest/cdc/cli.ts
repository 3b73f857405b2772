/**
 * `eddy generate`: the command-line face of the demo CDC generator. Parses and checks flags,
 * prints a progress line a second and a summary, and turns SIGINT/SIGTERM into a clean stop
 * (the batch in flight is finished and the producer disconnects; a second signal kills).
 * Where Kafka is comes from `--brokers` or from the caller, which knows about the local stack.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../../common/logger.ts';
import { DEFAULT_TOPIC_PREFIX, TOPIC_PREFIX_RULE, isValidTopicPrefix } from './model.ts';
import { runCdcGenerator, type CdcRunStats } from './producer.ts';

type GenerateFlags = {
  rate: number;
  duration?: number;
  maxEvents?: number;
  seed: number;
  schemas: boolean;
  partitions: number;
  topicPrefix: string;
  brokers?: string[];
};

/**
 * Builds the `generate` command.
 *
 * @param resolveBrokers called for the broker list when `--brokers` is not given
 */
export function cdcGeneratorCommand(resolveBrokers: () => Promise<string[]>): Command {
  return new Command('generate')
    .description('produce a deterministic Debezium-format CDC stream of the demo e-commerce database into Kafka')
    .option('--rate <n>', 'events per second, tombstones included', positiveInteger('--rate'), 1000)
    .option('--duration <seconds>', 'stop after this many seconds (default: until Ctrl-C)', positiveInteger('--duration'))
    .option('--max-events <n>', 'stop after this many events', positiveInteger('--max-events'))
    .option('--seed <n>', 'seed of the event stream; the same seed gives the same events', seed, 1)
    .option('--schemas', 'wrap keys and values with their Connect schema (JsonConverter schemas.enable=true)', true)
    .option('--no-schemas', 'plain JSON keys and values (schemas.enable=false)')
    .option('--partitions <n>', 'partitions of the topics when they are created', positiveInteger('--partitions'), 12)
    .option('--topic-prefix <name>', 'Debezium topic.prefix: topics are <name>.public.<table>', topicPrefix, DEFAULT_TOPIC_PREFIX)
    .option('--brokers <list>', 'comma-separated Kafka bootstrap servers (default: the configured Kafka)', brokerList)
    .action(async (flags: GenerateFlags) => {
      await generate(flags, resolveBrokers);
    });
}

async function generate(flags: GenerateFlags, resolveBrokers: () => Promise<string[]>): Promise<void> {
  const brokers = flags.brokers ?? (await resolveBrokers());
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping after the batch in flight (again to kill)\n`);
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let previous: CdcRunStats | undefined;
  try {
    const stats = await runCdcGenerator({
      brokers,
      rate: flags.rate,
      durationSec: flags.duration,
      maxEvents: flags.maxEvents,
      seed: flags.seed,
      schemas: flags.schemas,
      partitions: flags.partitions,
      topicPrefix: flags.topicPrefix,
      signal: controller.signal,
      logger: createLogger('cdc-generator'),
      onProgress: (current) => {
        process.stdout.write(`${progressLine(previous, current)}\n`);
        previous = current;
      },
    });
    process.stdout.write(`${summaryLine(stats)}\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** One progress line: rate over the last interval, average rate, totals. */
export function progressLine(previous: CdcRunStats | undefined, current: CdcRunStats): string {
  const events = current.events - (previous?.events ?? 0);
  const ms = current.elapsedMs - (previous?.elapsedMs ?? 0);
  const recent = ms > 0 ? (events * 1000) / ms : 0;
  return `${Math.round(recent)} events/s (avg ${Math.round(current.eventsPerSec)}), ${current.events} events, ${megabytes(current.bytes)} MB`;
}

/** The final line: totals, average rate and the split by op and by table. */
export function summaryLine(stats: CdcRunStats): string {
  const split = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .map(([name, count]) => `${name}=${count}`)
      .join(' ');
  return (
    `generated ${stats.events} events (${megabytes(stats.bytes)} MB) in ${(stats.elapsedMs / 1000).toFixed(1)} s, ` +
    `${Math.round(stats.eventsPerSec)} events/s; ops: ${split(stats.byOp)}; tables: ${split(stats.byTable)}`
  );
}

function megabytes(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}

function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${flag} must be a positive integer, got '${value}'`);
    }
    return n;
  };
}

function seed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 0xffff_ffff) {
    throw new InvalidArgumentError(`--seed must be an integer from 0 to 4294967295, got '${value}'`);
  }
  return n;
}

function topicPrefix(value: string): string {
  if (!isValidTopicPrefix(value)) throw new InvalidArgumentError(`--topic-prefix must be ${TOPIC_PREFIX_RULE}, got '${value}'`);
  return value;
}

function brokerList(value: string): string[] {
  const brokers = value.split(',').map((broker) => broker.trim()).filter((broker) => broker !== '');
  if (brokers.length === 0 || brokers.some((broker) => !/^\S+:\d+$/.test(broker))) {
    throw new InvalidArgumentError(`--brokers must be a comma-separated list of host:port, got '${value}'`);
  }
  return brokers;
}

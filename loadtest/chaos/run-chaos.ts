/**
 * The chaos run: a coordinator and N workers run `eos-check` on their own topics while a
 * producer writes `{key, seq}` (seq 1..n for every key) at a steady rate; meanwhile a random
 * worker is SIGKILLed every `killEverySec` and restarted, and the coordinator is SIGKILLed and
 * restarted. Afterwards an independent read_committed consumer checks that every key's outputs
 * are exactly 1..n, each once, with seq == count. Used by `npm run chaos` and, shorter, by the
 * integration suite.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from '../../common/logger.ts';
import { clusterRunning, freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { SeededRandom } from '../cdc/random.ts';
import { readEosOutputs, verifyEosOutputs, type EosVerdict } from './eos-verifier.ts';

export interface ChaosOptions {
  kafka: Kafka;
  brokers: string[];
  natsUrl?: string;
  /** At least this many records are produced (rounded up to whole seqs over all keys). */
  records: number;
  keys: number;
  /** Records per second. */
  rate: number;
  workers: number;
  killEverySec: number;
  /** Kill at least this many workers, continuing after production if needed. */
  workerKills: number;
  coordinatorKills: number;
  seed: number;
  checkpointIntervalMs: number;
  logger: Logger;
  /** Where cluster logs, task state and checkpoints go (default: a new temp dir). */
  dir?: string;
}

export interface ChaosResult extends EosVerdict {
  produced: number;
  workerKills: number;
  coordinatorKills: number;
  /** SIGKILL of a worker until all its tasks run on the survivors; SIGKILL of the coordinator until a restarted one runs every task. */
  recoveryMsP50: number;
  recoveryMsMax: number;
  /** Restart of a killed worker until it is back and the tasks are rebalanced onto it. */
  rejoinMsP50: number;
  rejoinMsMax: number;
  durationSec: number;
  topicPrefix: string;
  logs: string;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const startedAt = Date.now();
  const prefix = `eddy.chaos.${startedAt}`;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'eddy-chaos-'));
  const cluster = new LocalCluster({
    job: 'eos-check', workers: options.workers, brokers: options.brokers, natsUrl: options.natsUrl, dir,
    controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
    env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_INTERVAL_MS: String(options.checkpointIntervalMs) },
  });
  const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`);
  const n = Math.ceil(options.records / options.keys);
  const recoveries: number[] = [];
  const rejoins: number[] = [];
  const kills = { workers: 0, coordinator: 0 };
  try {
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
    options.logger.info({ prefix, keys: keys.length, seqs: n, rate: options.rate, dir }, 'chaos: cluster running, producing');
    const production = produce(options.kafka, `${prefix}.input`, keys, n, options.rate, options.logger);
    await chaos(cluster, options, production.done, kills, { recoveries, rejoins });
    const produced = await production.promise;
    options.logger.info({ produced, kills }, 'chaos: production done; verifying output');
    const outputs = await readEosOutputs(options.kafka, `${prefix}.output`, keys, n, { timeoutMs: 180_000, settleMs: 3 * options.checkpointIntervalMs + 2_000 });
    return {
      produced,
      ...verifyEosOutputs(outputs, keys, n),
      workerKills: kills.workers,
      coordinatorKills: kills.coordinator,
      recoveryMsP50: median(recoveries),
      recoveryMsMax: Math.max(0, ...recoveries),
      rejoinMsP50: median(rejoins),
      rejoinMsMax: Math.max(0, ...rejoins),
      durationSec: Math.round((Date.now() - startedAt) / 1000),
      topicPrefix: prefix,
      logs: join(dir, 'logs'),
    };
  } finally {
    await cluster.stop();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

/** Kills until production is done and enough kills happened; the coordinator every third round until its quota is met. */
async function chaos(
  cluster: LocalCluster,
  options: ChaosOptions,
  produced: () => boolean,
  kills: { workers: number; coordinator: number },
  times: { recoveries: number[]; rejoins: number[] },
): Promise<void> {
  const random = new SeededRandom(options.seed);
  let round = 0;
  while (!produced() || kills.workers < options.workerKills) {
    await sleep(options.killEverySec * 1000 * (0.8 + random.int(0, 40) / 100));
    round += 1;
    const killCoordinator = kills.coordinator < options.coordinatorKills && round % 3 === 2;
    const victim = killCoordinator ? 'coordinator' : random.pick(cluster.workerNames());
    const killedAt = Date.now();
    await cluster.kill(victim, 'SIGKILL');
    options.logger.info({ victim, round }, 'chaos: SIGKILL');
    if (killCoordinator) {
      kills.coordinator += 1;
      cluster.restart(victim);
      await waitRunning(cluster, options.workers, 60_000);
      times.recoveries.push(Date.now() - killedAt);
    } else {
      kills.workers += 1;
      await waitRunning(cluster, options.workers - 1, 60_000);
      times.recoveries.push(Date.now() - killedAt);
      const restartedAt = Date.now();
      cluster.restart(victim);
      await waitRunning(cluster, options.workers, 60_000);
      times.rejoins.push(Date.now() - restartedAt);
    }
    options.logger.info({ victim, recoveryMs: times.recoveries.at(-1) }, 'chaos: recovered');
  }
}

/** Waits until every task runs on `workers` live workers; `check` may throw to give up early. */
export async function waitRunning(cluster: LocalCluster, workers: number, timeoutMs: number, check?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    check?.();
    const view = await cluster.view();
    if (view !== undefined && clusterRunning(view, workers)) return;
    await sleep(50);
  }
  throw new Error(`chaos: the cluster did not recover within ${timeoutMs} ms`);
}

/**
 * Writes seq 1..n of every key at `rate` records/s (seq-major, so every key advances together).
 * `seqSentAt[seq]`, if given, gets the time the first record of each seq was sent.
 */
export function produce(
  kafka: Kafka, topic: string, keys: string[], n: number, rate: number, logger: Logger, seqSentAt?: number[],
): { promise: Promise<number>; done: () => boolean } {
  let finished = false;
  const promise = (async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let sent = 0;
    const total = keys.length * n;
    const started = Date.now();
    try {
      while (sent < total) {
        const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
        const messages: Message[] = [];
        for (let i = sent; i < due; i++) {
          const key = keys[i % keys.length] as string;
          messages.push({ key, value: JSON.stringify({ key, seq: Math.floor(i / keys.length) + 1 }) });
        }
        if (seqSentAt !== undefined) for (let i = sent; i < due; i++) seqSentAt[Math.floor(i / keys.length) + 1] ??= Date.now();
        if (messages.length > 0) await producer.send({ topic, acks: -1, messages });
        sent = due;
        if (sent % (rate * 10) < messages.length) logger.info({ sent, total }, 'chaos: producing');
        await sleep(20);
      }
      return sent;
    } finally {
      finished = true;
      await producer.disconnect();
    }
  })();
  return { promise, done: () => finished };
}

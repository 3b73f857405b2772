/**
 * Starts and stops the baseline passthrough (baseline-server.ts) as a child process, on its own
 * fresh topics (12 partitions, like eos-check's), and hands back the endpoint k6 drives.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { createTopicsReady } from '../../common/kafka.ts';

const serverFile = fileURLToPath(new URL('./baseline-server.ts', import.meta.url));
const partitions = 12;
const readyTimeoutMs = 60_000;

export interface Baseline {
  /** host:port of its ingest endpoint. */
  endpoint: string;
  inputTopic: string;
  pid: number;
  log: string;
  /** SIGTERM, SIGKILL after 10 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export async function startBaseline(options: { kafka: Kafka; brokers: string[]; prefix: string; dir: string }): Promise<Baseline> {
  const inputTopic = `${options.prefix}.baseline.input`;
  const outputTopic = `${options.prefix}.baseline.output`;
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, [inputTopic, outputTopic].map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })));
  } finally {
    await admin.disconnect();
  }
  const log = join(options.dir, 'logs', 'baseline.log');
  const logStream = createWriteStream(log, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', serverFile], {
    env: {
      ...process.env,
      BENCH_BROKERS: options.brokers.join(','),
      BENCH_INPUT_TOPIC: inputTopic,
      BENCH_OUTPUT_TOPIC: outputTopic,
      BENCH_GROUP: `${options.prefix}.baseline`,
      BENCH_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr.pipe(logStream);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
      if (timedOut) child.kill('SIGKILL');
    }
    await exited;
    await new Promise((resolve) => logStream.end(resolve));
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`baseline: not ready within ${readyTimeoutMs} ms (log: ${log})`)), readyTimeoutMs);
    void exited.then(() => reject(new Error(`baseline: the server exited during start-up (log: ${log})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      logStream.write(`${line}\n`);
      try {
        const message = JSON.parse(line) as { ready?: boolean; port?: number };
        if (message.ready === true && typeof message.port === 'number') {
          clearTimeout(timer);
          resolve(message.port);
        }
      } catch {
        // not the ready line: it is in the log
      }
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  if (child.pid === undefined) throw new Error('baseline: no pid');
  return { endpoint: `127.0.0.1:${port}`, inputTopic, pid: child.pid, log, stop };
}

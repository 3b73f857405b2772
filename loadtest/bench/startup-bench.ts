/**
 * The `startup` scenario of `npm run bench`: how long a fresh cluster takes from its start to its
 * first output, as `eddy up` starts one (a coordinator, then N workers, each its own process).
 * Input is waiting in Kafka before the cluster starts; a read_committed consumer notes when the
 * first output of `eos-check` becomes visible. Reported from the moment the processes were
 * launched (the coordinator and the workers together, as `eddy up` does): the coordinator's
 * admin API answering, all tasks running, and the first output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { createTopicsReady, deleteTopicsContaining } from '../../common/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';

export interface StartupBenchOptions {
  kafka: Kafka;
  brokers: string[];
  workers: number;
  threadsPerWorker?: number;
  /** Runs, each on a fresh cluster and topics. */
  runs: number;
}

export interface StartupRun {
  /** From launching the processes until the coordinator's admin API answered. */
  coordinatorMs: number;
  /** From launching the processes until every task ran. */
  tasksRunningMs: number;
  /** From launching the processes until the first output was visible to a read_committed reader. */
  firstOutputMs: number;
}

export interface StartupBenchResult {
  workers: number;
  runs: StartupRun[];
}

export async function runStartupBench(options: StartupBenchOptions): Promise<StartupBenchResult> {
  const runs: StartupRun[] = [];
  for (let i = 0; i < options.runs; i++) runs.push(await oneRun(options));
  return { workers: options.workers, runs };
}

async function oneRun(options: StartupBenchOptions): Promise<StartupRun> {
  const prefix = `bench_startup_${Date.now()}`;
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-startup-'));
  const cluster = new LocalCluster({
    job: 'eos-check', workers: options.workers, brokers: options.brokers, dir, controlPort: await freePort(), adminPort: await freePort(),
    threadsPerWorker: options.threadsPerWorker, env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_LOG_LEVEL: 'warn' },
  });
  const admin = options.kafka.admin();
  const producer = options.kafka.producer();
  const consumer = options.kafka.consumer({ groupId: `${prefix}-reader`, readUncommitted: false, maxWaitTimeInMs: 20 });
  try {
    await admin.connect();
    await createTopicsReady(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
    await producer.connect();
    const messages = Array.from({ length: 1_200 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ key: `k${i}`, seq: 1 }) }));
    await producer.send({ topic: topics.input, messages });
    let firstOutputAt: number | undefined;
    await consumer.connect();
    await consumer.subscribe({ topic: topics.output, fromBeginning: true });
    await consumer.run({
      eachBatch: ({ batch }) => {
        if (batch.messages.length > 0) firstOutputAt ??= Date.now();
        return Promise.resolve();
      },
    });
    const startedAt = Date.now();
    await cluster.start(); // launches the coordinator and the workers, returns once the coordinator's admin API answers
    const coordinatorAt = Date.now();
    await cluster.waitUntilRunning(120_000);
    const runningAt = Date.now();
    for (const deadline = Date.now() + 120_000; firstOutputAt === undefined && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    if (firstOutputAt === undefined) throw new Error('startup bench: no output within 120 s of the cluster running');
    return { coordinatorMs: coordinatorAt - startedAt, tasksRunningMs: runningAt - startedAt, firstOutputMs: firstOutputAt - startedAt };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await cluster.stop();
    await deleteTopicsContaining(admin, prefix);
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The result as a Markdown table. */
export function startupMarkdown(r: StartupBenchResult): string {
  return [
    `### startup: a fresh cluster of ${r.workers} workers running eos-check, input waiting in Kafka`,
    '',
    '| run | launched -> coordinator up | launched -> every task running | launched -> first output visible |',
    '| --- | --- | --- | --- |',
    ...r.runs.map((run, i) => `| ${i + 1} | ${run.coordinatorMs} ms | ${run.tasksRunningMs} ms | ${run.firstOutputMs} ms |`),
  ].join('\n');
}

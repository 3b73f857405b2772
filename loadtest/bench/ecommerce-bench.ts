/**
 * The `ecommerce` scenario of `npm run bench`: the ecommerce job (five repartition hops, joins,
 * retracting aggregates, sessions) on a fresh local cluster, fed by the demo CDC generator at a
 * steady rate (10,000 change events/s by default). Reports:
 *
 * - throughput: source events covered by completed checkpoints per second over the measured
 *   window (read from the checkpoint manifests: every task's committed offsets), and the backlog
 *   left when production stopped;
 * - end-to-end latency: from the event time an output carries (`eddy.event.time`: the Debezium
 *   `source.ts_ms` of the change that caused it; the generator writes wall-clock times) to the
 *   moment a read_committed consumer sees the output, for `revenue_5m` and `inventory_alerts`;
 * - CPU and memory of the coordinator and every worker.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Logger } from '../../common/logger.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { createEcommerceJob, DEFAULTS } from '../../examples/ecommerce/job.ts';
import { sourceTopics } from '../../job/topics.ts';
import { runCdcGenerator } from '../cdc/producer.ts';
import { checkpointStoreFor } from '../../state/checkpoint-store.ts';
import { ProcessSampler, type SampledUsage } from './process-sampler.ts';

export interface EcommerceBenchOptions {
  kafka: Kafka;
  brokers: string[];
  /** Change events per second. */
  rate: number;
  durationSec: number;
  /** Unmeasured seconds at `rate` first (JIT, connections). */
  warmupSec: number;
  workers: number;
  threadsPerWorker?: number;
  partitions: number;
  logger: Logger;
}

export interface EcommerceBenchResult {
  rate: number;
  durationSec: number;
  workers: number;
  partitions: number;
  produced: number;
  /** Events per second the generator reached (it cannot exceed what the machine leaves it). */
  producedPerSec: number;
  /**
   * How far the generator's simulated database clock (`ts_ms`, advancing 1/rate per event) was
   * behind the wall clock when production stopped: when the generator cannot keep the rate, the
   * latencies below include this lag of the "database" itself.
   */
  sourceLagAtStopMs: number;
  /** Source events committed by checkpoints per second during the measured window. */
  committedPerSec: number;
  /**
   * Records (source and repartition topics) not yet covered by a checkpoint when production
   * stopped, and how long until all were (up to 4 records per repartition partition, the tail
   * of markers each published checkpoint leaves, are not counted).
   */
  backlogAtStop: number;
  drainSec: number | null;
  latencyMs: Record<'revenue_5m' | 'inventory_alerts', { outputs: number; p50: number; p95: number; p99: number; max: number }>;
  usage: SampledUsage;
}

/** Runs the scenario on its own cluster and topics; stops the cluster after. */
export async function runEcommerceBench(options: EcommerceBenchOptions): Promise<EcommerceBenchResult> {
  const prefix = `bench_ecom_${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-ecommerce-'));
  const jobOptions = { ...DEFAULTS, topicPrefix: prefix, partitions: options.partitions };
  const cluster = new LocalCluster({
    job: 'ecommerce', workers: options.workers, brokers: options.brokers, dir, controlPort: await freePort(), adminPort: await freePort(),
    threadsPerWorker: options.threadsPerWorker, env: { EDDY_ECOMMERCE: JSON.stringify(jobOptions), EDDY_LOG_LEVEL: 'warn' },
  });
  const store = checkpointStoreFor(join(dir, 'checkpoints'), prefix);
  const topics = sourceTopics(createEcommerceJob(jobOptions)); // Debezium topics and repartitions
  const sampler = new ProcessSampler(['coordinator', ...cluster.workerNames()].map((name) => ({ name, pid: () => cluster.pid(name) })));
  const latencies = { revenue_5m: [] as number[], inventory_alerts: [] as number[] };
  let measuring = false;
  const consumer = options.kafka.consumer({ groupId: `${prefix}-latency`, maxWaitTimeInMs: 20 });
  try {
    // Topics first (the generator's), so the cluster starts on them.
    await runCdcGenerator({ brokers: options.brokers, rate: 1, maxEvents: 1, seed: 1, schemas: true, partitions: options.partitions, topicPrefix: prefix, logger: options.logger });
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
    await consumer.connect();
    for (const output of ['revenue_5m', 'inventory_alerts'] as const) await consumer.subscribe({ topic: `${prefix}.${output}`, fromBeginning: false });
    await consumer.run({
      eachBatch: ({ batch }) => {
        const seen = Date.now();
        const list = batch.topic.endsWith('revenue_5m') ? latencies.revenue_5m : latencies.inventory_alerts;
        if (measuring) for (const m of batch.messages) list.push(seen - Number(m.headers?.['eddy.event.time']?.toString()));
        return Promise.resolve();
      },
    });
    if (options.warmupSec > 0) await produce(options, prefix, options.warmupSec, 2);
    const before = await committedInput(store, prefix);
    // A repartition partition always ends with records the newest manifest does not cover yet:
    // the transaction markers and watermark markers of the checkpoint published after it.
    const tail = 4 * topics.filter((t) => !t.startsWith(`${prefix}.public.`)).length * options.partitions;
    const backlog = async () => Math.max(0, (await endOffsets(options.kafka, topics)) - (await committedInput(store)) - tail);
    measuring = true;
    sampler.start();
    const startedAt = Date.now();
    const produced = await produce(options, prefix, options.durationSec, 3);
    const stoppedAt = Date.now();
    const atStop = await committedInput(store, prefix);
    const backlogAtStop = await backlog();
    let drainSec: number | null = null;
    for (const deadline = Date.now() + 300_000; Date.now() < deadline; await sleep(250)) {
      if ((await backlog()) <= 0) {
        drainSec = (Date.now() - stoppedAt) / 1000;
        break;
      }
    }
    await sleep(2_000);
    measuring = false;
    const usage = await sampler.stop();
    const measuredSec = (stoppedAt - startedAt) / 1000;
    return {
      rate: options.rate, durationSec: options.durationSec, workers: options.workers, partitions: options.partitions, produced,
      producedPerSec: Math.round(produced / measuredSec),
      sourceLagAtStopMs: Math.max(0, Math.round(stoppedAt - startedAt - (produced * 1000) / options.rate)),
      committedPerSec: Math.round((atStop - before) / measuredSec),
      backlogAtStop, drainSec,
      latencyMs: { revenue_5m: summary(latencies.revenue_5m), inventory_alerts: summary(latencies.inventory_alerts) },
      usage,
    };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await cluster.stop();
  }
}

async function produce(options: EcommerceBenchOptions, prefix: string, durationSec: number, seed: number): Promise<number> {
  const stats = await runCdcGenerator({ brokers: options.brokers, rate: options.rate, durationSec, seed, schemas: true, partitions: options.partitions, topicPrefix: prefix, logger: options.logger });
  return stats.events;
}

/**
 * Records covered by the newest completed checkpoint: every task's committed offsets, on the
 * job's Debezium topics (with `prefix`) or on all its topics, repartitions included.
 */
async function committedInput(store: ReturnType<typeof checkpointStoreFor>, prefix?: string): Promise<number> {
  const completed = await store.completed().catch(() => [] as number[]);
  const newest = Math.max(0, ...completed);
  if (newest === 0) return 0;
  const manifest = await store.readManifest(newest);
  let sum = 0;
  for (const task of manifest.tasks) {
    for (const [topic, offset] of Object.entries(task.offsets)) if (prefix === undefined || topic.startsWith(`${prefix}.public.`)) sum += Number(offset);
  }
  return sum;
}

/** Records in `topics` (the job's sources, repartitions included). */
async function endOffsets(kafka: Kafka, topics: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let sum = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) sum += Number(p.high);
    return sum;
  } finally {
    await admin.disconnect();
  }
}

/** The result as a Markdown table. */
export function ecommerceMarkdown(r: EcommerceBenchResult): string {
  const lines = [
    `### ecommerce job: ${r.rate} change events/s for ${r.durationSec} s, ${r.workers} workers, ${r.partitions} partitions`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| produced (all four tables) | ${r.produced} events, ${r.producedPerSec} events/s; the generator's ts_ms clock ${r.sourceLagAtStopMs} ms behind the wall clock at the end |`,
    `| committed by checkpoints (orders, order_items, products) | ${r.committedPerSec} events/s |`,
    `| backlog when production stopped (source and repartition topics) | ${r.backlogAtStop} records, drained in ${r.drainSec === null ? 'more than 300' : r.drainSec.toFixed(1)} s |`,
  ];
  for (const [output, l] of Object.entries(r.latencyMs)) lines.push(`| latency ts_ms -> visible, ${output} (${l.outputs} outputs) | p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms |`);
  for (const [name, p] of Object.entries(r.usage.processes)) lines.push(`| ${name} | CPU avg ${p.cpuPctAvg.toFixed(0)}% (max ${p.cpuPctMax.toFixed(0)}%), RSS avg ${p.rssMbAvg.toFixed(0)} MB (max ${p.rssMbMax.toFixed(0)} MB) |`);
  if (r.usage.machine !== undefined) lines.push(`| machine | CPU avg ${r.usage.machine.cpuPctAvg.toFixed(0)}% of one core (max ${r.usage.machine.cpuPctMax.toFixed(0)}%) |`);
  return lines.join('\n');
}

function summary(values: number[]): { outputs: number; p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { outputs: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

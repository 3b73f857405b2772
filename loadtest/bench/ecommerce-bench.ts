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
import { DEFAULTS } from '../../examples/ecommerce/job.ts';
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
  /** Source events committed by checkpoints per second during the measured window. */
  committedPerSec: number;
  /** Source events not yet covered by a checkpoint when production stopped, and how long until they were. */
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
    measuring = true;
    sampler.start();
    const startedAt = Date.now();
    const produced = await produce(options, prefix, options.durationSec, 3);
    const stoppedAt = Date.now();
    const atStop = await committedInput(store, prefix);
    let drainSec: number | null = null;
    const total = await endOffsets(options.kafka, prefix);
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(250)) {
      if ((await committedInput(store, prefix)) >= total) {
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
      committedPerSec: Math.round((atStop - before) / measuredSec),
      backlogAtStop: Math.max(0, total - atStop), drainSec,
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

/** Source events covered by the newest completed checkpoint: every task's committed offsets on the job's source topics. */
async function committedInput(store: ReturnType<typeof checkpointStoreFor>, prefix: string): Promise<number> {
  const completed = await store.completed().catch(() => [] as number[]);
  const newest = Math.max(0, ...completed);
  if (newest === 0) return 0;
  const manifest = await store.readManifest(newest);
  let sum = 0;
  for (const task of manifest.tasks) {
    for (const [topic, offset] of Object.entries(task.offsets)) if (topic.startsWith(`${prefix}.public.`)) sum += Number(offset);
  }
  return sum;
}

/** Records in the job's source topics (users is not read by the job). */
async function endOffsets(kafka: Kafka, prefix: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let sum = 0;
    for (const table of ['orders', 'order_items', 'products']) {
      for (const p of await admin.fetchTopicOffsets(`${prefix}.public.${table}`)) sum += Number(p.high);
    }
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
    `| produced (all four tables) | ${r.produced} events |`,
    `| committed by checkpoints (orders, order_items, products) | ${r.committedPerSec} events/s |`,
    `| backlog when production stopped | ${r.backlogAtStop} events, drained in ${r.drainSec === null ? 'more than 120' : r.drainSec.toFixed(1)} s |`,
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

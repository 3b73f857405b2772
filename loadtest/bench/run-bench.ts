/**
 * The ingest benchmark: k6 drives Eddy's ingest endpoint (and, for comparison, a bare Kafka
 * consume -> produce passthrough with the same HTTP contract) at a constant arrival rate, while
 * every process involved is sampled for CPU and memory. Scenarios, in order:
 *
 * - `baseline`: the passthrough (baseline-server.ts), `wait=processed`. It runs before the Eddy
 *   cluster starts, so idle Eddy processes take no CPU from it.
 * - `processed`: Eddy, answered once every event was handled by its actor.
 * - `committed`: Eddy, answered once the checkpoint covering every event committed.
 * - `ramp`: Eddy `processed` at rising rates until p95 reaches the limit (or a request fails).
 *
 * The cluster is fresh: its own topic prefix, temp dir and ports, `eos-check` as the job. Used
 * by `npm run bench` (cli.ts) and callable from tests (`runBench(smokeBenchOptions(...))`).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { loadConfig, type EddyConfig } from '../../common/config.ts';
import { createKafka, deleteTopicsOf } from '../../common/kafka.ts';
import type { Logger } from '../../common/logger.ts';
import { kafkaPid } from '../../deploy/local/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { natsPid } from '../../deploy/local/nats.ts';
import { ensureLocalStack, type LocalStack } from '../../deploy/local/stack.ts';
import { ensureK6, k6Version } from '../k6/build-k6.ts';
import { startBaseline, type Baseline } from './baseline.ts';
import { rampFailure, ratio, type BenchResults, type RampResult, type ScenarioName, type ScenarioResult } from './bench-results.ts';
import { awaitK6, startK6, type K6Load, type K6Progress, type Wait } from './k6-run.ts';
import { ProcessSampler, type LatestUsage, type SampledProcess } from './process-sampler.ts';

export interface RampOptions {
  startEventsPerSec: number;
  stepEventsPerSec: number;
  /** The ramp stops here even if every step passed. */
  maxEventsPerSec: number;
  stepDurationSec: number;
}

export interface BenchOptions {
  /** Events per second of the baseline, processed and committed scenarios. */
  rate: number;
  durationSec: number;
  /** Events per request. */
  batch: number;
  keys: number;
  workers: number;
  /** Actor threads per worker; default: the config's (`worker.threads`). */
  threadsPerWorker?: number;
  scenarios: ScenarioName[];
  ramp: RampOptions;
  /** p95 limit of `processed` runs: k6's threshold and the ramp's pass mark. */
  p95LimitMs: number;
  /** The endpoint's `timeoutMs`. */
  timeoutMs: number;
  /**
   * An unrecorded run at `rate` before the first run against each target (JITs, Kafka's included;
   * connections). 30 s by default: the p95 of the first 10 s windows after a start stays high for
   * about that long while V8 and the JVM compile the hot paths.
   */
  warmupSec: number;
  /** Pause between runs, for queues and GC to settle. */
  settleSec: number;
  progressEverySec: number;
  logger: Logger;
  /** Progress lines; default: logger.info. */
  progress?: (line: string) => void;
  config?: EddyConfig;
  /** Cluster logs, k6 summaries and task state go here (default: a new temp dir). */
  dir?: string;
  /** Write a V8 CPU profile of every cluster thread here (node --cpu-prof). */
  profileDir?: string;
  signal?: AbortSignal;
}

type Defaults = Omit<BenchOptions, 'logger'>;

export const defaultBenchOptions: Defaults = {
  rate: 10_000,
  durationSec: 60,
  batch: 100,
  keys: 1_000,
  workers: 3,
  scenarios: ['baseline', 'processed', 'committed', 'ramp'],
  ramp: { startEventsPerSec: 2_000, stepEventsPerSec: 2_000, maxEventsPerSec: 40_000, stepDurationSec: 20 },
  p95LimitMs: 100,
  timeoutMs: 5_000,
  warmupSec: 30,
  settleSec: 3,
  progressEverySec: 5,
};

/** What CI runs: 10 s of `processed` at a low rate, after a 10 s warm-up (a cold cluster dominates a 10 s p95 otherwise). */
export const smokeDefaults: Partial<Defaults> = { durationSec: 10, rate: 1_000, scenarios: ['processed'], warmupSec: 10 };

export function smokeBenchOptions(logger: Logger, overrides: Partial<BenchOptions> = {}): BenchOptions {
  return { ...defaultBenchOptions, ...smokeDefaults, ...overrides, logger };
}

interface Context {
  options: BenchOptions;
  k6: string;
  dir: string;
  processes: SampledProcess[];
  progress: (line: string) => void;
}

interface RunSpec {
  name: string;
  target: 'baseline' | 'eddy';
  wait: Wait;
  rate: number;
  durationSec: number;
  endpoints: string[];
  topic: string;
}

/** What the bench has running right now: the process sampler and the clean-up look here. */
interface Running {
  baseline?: Baseline;
  cluster?: LocalCluster;
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const started = new Date();
  const { logger } = options;
  const config = options.config ?? loadConfig();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'eddy-bench-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const prefix = `eddy.bench.${started.getTime()}`;
  const k6 = await ensureK6(config, logger); // first: a missing Go fails before anything starts
  const stack = await ensureLocalStack(config, logger);
  const kafka = createKafka(stack.brokers, 'eddy-bench', logger);
  const running: Running = {};
  const kafkaServerPid = kafkaPid(config);
  const natsServerPid = natsPid(config);
  const processes: SampledProcess[] = [
    { name: 'coordinator', pid: () => running.cluster?.pid('coordinator') },
    ...Array.from({ length: options.workers }, (_, i) => ({ name: `worker-${i + 1}`, pid: () => running.cluster?.pid(`worker-${i + 1}`) })),
    { name: 'kafka', pid: () => kafkaServerPid },
    { name: 'nats', pid: () => natsServerPid },
    { name: 'baseline', pid: () => running.baseline?.pid },
    { name: 'bench', pid: () => process.pid }, // this process: k6's driver and the sampler
  ];
  const ctx: Context = { options, k6, dir, processes, progress: options.progress ?? ((line: string) => logger.info(line)) };
  const results = emptyResults(options, started);
  const wants = (name: ScenarioName): boolean => options.scenarios.includes(name);
  try {
    if (wants('baseline')) {
      ctx.progress('bench: starting the baseline passthrough');
      const baseline = (running.baseline = await startBaseline({ kafka, brokers: stack.brokers, prefix, dir }));
      const target = { target: 'baseline' as const, endpoints: [baseline.endpoint], topic: baseline.inputTopic };
      await warmUp(ctx, target);
      results.scenarios.push(await run(ctx, { ...target, name: 'baseline', wait: 'processed', rate: options.rate, durationSec: options.durationSec }));
      await baseline.stop(); // before the cluster starts: it takes no CPU from Eddy
      running.baseline = undefined;
    }
    if (wants('processed') || wants('committed') || wants('ramp')) {
      options.signal?.throwIfAborted();
      const cluster = (running.cluster = await startCluster(ctx, stack, prefix));
      results.cluster = { topicPrefix: prefix, dir };
      if (options.profileDir !== undefined) {
        const pids = ctx.processes.map((p) => [String(p.pid() ?? ''), p.name] as const).filter(([pid]) => pid !== '');
        results.profile = { dir: options.profileDir, processes: Object.fromEntries(pids) };
      }
      const endpoints = (await cluster.waitUntilRunning(120_000)).workers.filter((w) => w.alive).map((w) => w.endpoint);
      const target = { target: 'eddy' as const, endpoints, topic: `${prefix}.input` };
      ctx.progress(`bench: cluster running; endpoints ${endpoints.join(', ')}`);
      await warmUp(ctx, target);
      for (const wait of ['processed', 'committed'] as const) {
        if (wants(wait)) results.scenarios.push(await run(ctx, { ...target, name: wait, wait, rate: options.rate, durationSec: options.durationSec }));
      }
      if (wants('ramp')) results.ramp = await ramp(ctx, target, results.scenarios);
    }
  } finally {
    await cleanUp(running, kafka, prefix, dir, stack, logger);
  }
  const byName = (name: string): ScenarioResult | undefined => results.scenarios.find((s) => s.name === name);
  results.ratios = { processed: ratio(byName('processed'), byName('baseline')), committed: ratio(byName('committed'), byName('baseline')) };
  const finished = new Date();
  results.finishedAt = finished.toISOString();
  results.durationSec = Math.round((finished.getTime() - started.getTime()) / 1000);
  return results;
}

function emptyResults(options: BenchOptions, started: Date): BenchResults {
  return {
    startedAt: started.toISOString(),
    finishedAt: '',
    durationSec: 0,
    machine: { cpus: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), loadAvg1mAtStart: round2(loadavg()[0] ?? 0), node: process.version, k6: k6Version },
    settings: {
      rate: options.rate, durationSec: options.durationSec, batch: options.batch, keys: options.keys, workers: options.workers,
      threadsPerWorker: options.threadsPerWorker ?? null, scenarios: options.scenarios, timeoutMs: options.timeoutMs,
      p95LimitMs: options.p95LimitMs, warmupSec: options.warmupSec,
    },
    cluster: null,
    scenarios: [],
    ramp: null,
    ratios: { processed: null, committed: null },
  };
}

/** A fresh cluster running eos-check on the bench's own topics, in its own dir, on free ports. */
async function startCluster(ctx: Context, stack: LocalStack, prefix: string): Promise<LocalCluster> {
  const { options } = ctx;
  ctx.progress(`bench: starting a cluster (coordinator + ${options.workers} workers, eos-check on ${prefix}.input)`);
  const cluster = new LocalCluster({
    job: 'eos-check', workers: options.workers, brokers: stack.brokers, natsUrl: stack.natsUrl, dir: ctx.dir,
    controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: options.threadsPerWorker,
    env: { EDDY_EOS_TOPIC_PREFIX: prefix },
    nodeArgs: options.profileDir === undefined ? undefined : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`],
  });
  await cluster.start();
  return cluster;
}

/** Every step runs even if one before it fails: nothing the bench started is left running. */
async function cleanUp(running: Running, kafka: Kafka, prefix: string, dir: string, stack: LocalStack, logger: Logger): Promise<void> {
  const steps: [string, () => Promise<void> | void][] = [
    ['stop the baseline', () => running.baseline?.stop()],
    ['stop the cluster', () => running.cluster?.stop()],
    ['delete its topics', () => deleteTopicsOf(kafka, prefix)],
    ['remove task state', () => {
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      rmSync(join(dir, 'checkpoints'), { recursive: true, force: true });
    }],
    ['stop the servers it started', () => stack.stopStarted()],
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (err) {
      logger.warn({ err }, `bench: could not ${what}`);
    }
  }
}

async function warmUp(ctx: Context, target: Pick<RunSpec, 'target' | 'endpoints' | 'topic'>): Promise<void> {
  if (ctx.options.warmupSec <= 0) return;
  await run(ctx, { ...target, name: `${target.target}-warmup`, wait: 'processed', rate: ctx.options.rate, durationSec: ctx.options.warmupSec });
}

/** One k6 run with the processes sampled; progress lines while it runs. */
async function run(ctx: Context, spec: RunSpec): Promise<ScenarioResult> {
  const { options } = ctx;
  options.signal?.throwIfAborted();
  const load: K6Load = {
    name: spec.name, endpoints: spec.endpoints, topic: spec.topic, wait: spec.wait, rate: spec.rate, batch: options.batch,
    durationSec: spec.durationSec, keys: options.keys, timeoutMs: options.timeoutMs, p95LimitMs: options.p95LimitMs,
  };
  const loadAvg1mBefore = round2(loadavg()[0] ?? 0);
  ctx.progress(`bench: ${spec.name}: ${spec.target}, wait=${spec.wait}, ${spec.rate} events/s in batches of ${options.batch} for ${spec.durationSec} s (load average ${loadAvg1mBefore})`);
  const k6 = await startK6(ctx.k6, load, ctx.dir);
  const sampler = new ProcessSampler([...ctx.processes, { name: 'k6', pid: () => k6.pid }]);
  sampler.start();
  const startedAt = Date.now();
  const ticker = setInterval(() => {
    void k6.progress().then((p) => ctx.progress(progressLine(spec, Date.now() - startedAt, p, sampler.latest)));
  }, options.progressEverySec * 1000);
  let figures;
  try {
    figures = await awaitK6(k6, options.signal);
  } finally {
    clearInterval(ticker);
  }
  const { processes, machine } = await sampler.stop();
  options.signal?.throwIfAborted();
  const { summaryFile, logFile, ...rest } = figures;
  const result: ScenarioResult = {
    name: spec.name, target: spec.target, wait: spec.wait, targetEventsPerSec: spec.rate, batch: options.batch, durationSec: spec.durationSec,
    ...rest, loadAvg1mBefore, processes, machineCpu: machine ?? null, k6Summary: summaryFile, k6Log: logFile,
  };
  const l = result.latencyMs;
  ctx.progress(
    `bench: ${spec.name} done: ${result.achievedEventsPerSec} events/s confirmed, ${result.requests} requests, ${result.failedRequests} failed, ` +
      `${result.droppedIterations} dropped; latency ms p50 ${l.p50} p95 ${l.p95} p99 ${l.p99} max ${l.max}`,
  );
  if (spec.target === 'eddy') await waitUntilDrained(ctx, spec.endpoints);
  await sleep(options.settleSec * 1000, undefined, { signal: options.signal });
  return result;
}

interface TaskSummary {
  queueDepth: number;
  recordsIn: number;
}

/**
 * Waits until the workers have caught up: no record queued and none read for `quietMs`. A run
 * whose requests timed out leaves their events in Kafka, still to be processed; the next run
 * must not pay for them.
 */
async function waitUntilDrained(ctx: Context, endpoints: string[], quietMs = 3_000, timeoutMs = 180_000): Promise<void> {
  const started = Date.now();
  let last = -1;
  let quietSince = Date.now();
  let reported = started;
  while (Date.now() - started < timeoutMs) {
    const tasks = (await Promise.all(endpoints.map(async (e) => {
      try {
        const response = await fetch(`http://${e}/api/v1/tasks`, { signal: AbortSignal.timeout(2_000) });
        return response.ok ? ((await response.json()) as TaskSummary[]) : [];
      } catch {
        return [];
      }
    }))).flat();
    const recordsIn = tasks.reduce((sum, t) => sum + t.recordsIn, 0);
    const queued = tasks.reduce((sum, t) => sum + t.queueDepth, 0);
    if (recordsIn !== last || queued > 0) {
      last = recordsIn;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) {
      if (Date.now() - started > quietMs + 2_000) ctx.progress(`bench: workers drained their backlog in ${Math.round((Date.now() - started - quietMs) / 1000)} s`);
      return;
    }
    if (Date.now() - reported >= ctx.options.progressEverySec * 1000) {
      reported = Date.now();
      ctx.progress(`bench: waiting for the workers to drain (${queued} records queued, ${recordsIn} read so far)`);
    }
    await sleep(500, undefined, { signal: ctx.options.signal });
  }
  ctx.progress(`bench: the workers were still reading after ${timeoutMs / 1000} s; going on`);
}

function progressLine(spec: RunSpec, elapsedMs: number, p: K6Progress | undefined, cpu: LatestUsage): string {
  const k6Part = p === undefined
    ? 'k6 not answering (starting or finishing)'
    : `k6 ${p.requests} requests, ${(p.failedRate * 100).toFixed(1)}% failed, p95 ${p.p95Ms?.toFixed(1) ?? '-'} ms, ${p.vus} VUs`;
  const cpuPart = Object.entries(cpu).map(([name, u]) => `${name} ${Math.round(u.cpuPct)}`).join(' ');
  return `bench: ${spec.name} ${Math.round(elapsedMs / 1000)}s/${spec.durationSec}s | ${k6Part} | cpu% ${cpuPart}`;
}

/** `processed` at rising rates until a step fails (or the maximum passes). */
async function ramp(ctx: Context, target: Pick<RunSpec, 'target' | 'endpoints' | 'topic'>, into: ScenarioResult[]): Promise<RampResult> {
  const { ramp: r, p95LimitMs } = ctx.options;
  const result: RampResult = { p95LimitMs, stepDurationSec: r.stepDurationSec, steps: [], maxPassingEventsPerSec: null, limitFound: false };
  for (let rate = r.startEventsPerSec; rate <= r.maxEventsPerSec; rate += r.stepEventsPerSec) {
    const step = await run(ctx, { ...target, name: `ramp-${rate}`, wait: 'processed', rate, durationSec: r.stepDurationSec });
    into.push(step);
    const failure = rampFailure(step, p95LimitMs);
    result.steps.push({
      eventsPerSec: rate, p95Ms: step.latencyMs.p95, failedRequests: step.failedRequests, droppedIterations: step.droppedIterations,
      achievedEventsPerSec: step.achievedEventsPerSec, passed: failure === undefined, ...(failure !== undefined && { failure }),
    });
    if (failure !== undefined) {
      result.limitFound = true;
      ctx.progress(`bench: ramp stops at ${rate} events/s (${failure}); highest passing: ${result.maxPassingEventsPerSec ?? 'none'}`);
      break;
    }
    result.maxPassingEventsPerSec = rate;
  }
  return result;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

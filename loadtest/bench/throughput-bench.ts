/**
 * The `throughput` scenario of `npm run bench`: Eddy against Kafka Streams on the same work.
 * One input topic (12 partitions) is preloaded with `records` records `{key, seq}` over 1,000
 * keys `k0..k999`, seq running 1, 2, … per key. Then, one after the other and never together:
 *
 * - **Eddy**: a fresh local cluster (coordinator and `workers` workers) running `eos-check` on
 *   that input, into its own output topic;
 * - **Kafka Streams**: `loadtest/bench/kafka-streams/` (EosCount.java, the same keyed count with
 *   `exactly_once_v2`, 2 stream threads, commits every 100 ms), its own application id and
 *   output topic, on the same input. Built once with Maven into `<cacheDir>/bench-kafka-streams-
 *   <version>-<hash of its sources>`; its JVM runs with `-Xmx512m`.
 *
 * For each, a read_committed consumer started before the system notes when outputs become
 * visible: the first (from the moment the system's first process was launched), the 10 % and
 * 90 % marks (outputs/s between them) and the last. CPU and RSS of the system's processes (and
 * of the broker and this process, for context) are sampled from launch to the last output. Last,
 * a fresh read_committed reader checks the whole output (`eos-verifier.ts`): lost, duplicated
 * and wrong counts are reported, not asserted.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import type { EddyConfig } from '../../common/config.ts';
import { createTopicsReady, deleteTopicsContaining } from '../../common/kafka.ts';
import type { Logger } from '../../common/logger.ts';
import { kafkaPid } from '../../deploy/local/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { isAlive, requireCommand, runOrThrow, startDaemon, stopDaemon } from '../../deploy/local/processes.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';
import { readEosOutputs, verifyEosOutputs, type EosVerdict } from '../chaos/eos-verifier.ts';
import { ProcessSampler, type SampledProcess, type SampledUsage } from './process-sampler.ts';

export const kafkaStreamsVersion = '4.4.0';
const appDir = fileURLToPath(new URL('./kafka-streams', import.meta.url));
const mainClass = 'dev.eddy.bench.EosCount';
/** The machine's rule for JVMs: a heap of 512 MB at most. */
const jvmArgs = ['-Xmx512m', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true',
  '-Dorg.slf4j.simpleLogger.showDateTime=true', '-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn',
  '-Dorg.slf4j.simpleLogger.log.org.apache.kafka.streams.KafkaStreams=info'];
/** Kafka Streams settings, as EosCount.java sets them (for the report). */
const kafkaStreamsSetup = 'exactly_once_v2, 2 stream threads, commit.interval.ms 100';

/** Distinct keys of the input (fewer if `records` is smaller). */
const KEYS = 1_000;
/** A system that shows no new output for this long has stalled: its run ends there. */
const stallMs = 180_000;
/** After the last expected output the watcher keeps reading this long, so late repeats show. */
const settleMs = 3_000;

export interface ThroughputBenchOptions {
  kafka: Kafka;
  brokers: string[];
  /** Records preloaded (rounded up to a multiple of the key count). */
  records: number;
  workers: number;
  threadsPerWorker?: number;
  /** Where the Kafka Streams app is built (`local.cacheDir`), the local broker's pid file, Eddy's defaults. */
  config: EddyConfig;
  logger: Logger;
  progress?: (line: string) => void;
  signal?: AbortSignal;
}

export interface ThroughputRun {
  system: 'eddy' | 'kafka-streams';
  setup: string;
  /** True if every expected output became visible; otherwise `problem` says why the run ended. */
  complete: boolean;
  problem?: string;
  /** Outputs the watching consumer saw (repeats included). */
  outputsSeen: number;
  /** From launching the system's first process to the first output visible to a read_committed reader. */
  firstOutputSec: number | null;
  /** Outputs per second between the moments 10 % and 90 % of the expected outputs were visible. */
  outputsPerSec: number | null;
  /** From launch to the last output. */
  lastOutputSec: number | null;
  /** All expected outputs over `lastOutputSec`: start-up included. */
  overallPerSec: number | null;
  /** Sum of the average CPU of the system's processes, % of one core. */
  cpuPctAvg: number;
  /** Sum of each of the system's processes' largest RSS. */
  rssMbMax: number;
  /** The Kafka broker's average CPU in the same window (undefined if it is not a local one). */
  brokerCpuPctAvg: number | undefined;
  /** This process (the watching consumer) in the same window. */
  benchCpuPctAvg: number | undefined;
  /** Unexpected exits of the system's processes during the run. */
  crashes: string[];
  usage: SampledUsage;
  /** The independent check of the whole output by a fresh read_committed reader. */
  verdict: EosVerdict;
  /** How fast that reader read the output (a ceiling on what the watcher can observe). */
  readerPerSec: number;
}

export interface ThroughputBenchResult {
  records: number;
  keys: number;
  perKey: number;
  partitions: number;
  preloadSec: number;
  eddy: ThroughputRun;
  kafkaStreams: ThroughputRun;
  /** Eddy's outputs/s (10-90 %) over Kafka Streams'. */
  ratio: number | null;
  kafkaStreamsVersion: string;
  jvmArgs: string[];
}

/** Builds the Kafka Streams app unless this version of its sources is built already; returns its classpath. */
export function buildKafkaStreamsApp(cacheDir: string, logger: Logger): string {
  const files = ['pom.xml', ...readdirSync(join(appDir, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.java')).map((f) => join('src', f))].sort();
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(join(appDir, file))).update('\0');
  const dir = join(cacheDir, `bench-kafka-streams-${kafkaStreamsVersion}-${hash.digest('hex').slice(0, 12)}`);
  const classpath = [join(dir, 'build', 'eos-count.jar'), join(dir, 'libs', '*')].join(':');
  if (existsSync(dir)) return classpath;
  requireCommand('java', 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jdk-headless).');
  const mvn = requireCommand('mvn', 'install Apache Maven (Debian: apt-get install maven) to build the Kafka Streams benchmark app.');
  logger.info({ dir }, `building the Kafka Streams ${kafkaStreamsVersion} benchmark app with Maven (once)`);
  // Staged and renamed, so an interrupted build is never taken for a complete one.
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    runOrThrow('mvn package (the Kafka Streams benchmark app)', mvn, [
      '-q', '-B', '-f', join(appDir, 'pom.xml'), `-Deddy.buildDir=${join(staging, 'build')}`,
      'package', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${join(staging, 'libs')}`,
    ]);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  renameSync(staging, dir);
  return classpath;
}

/** One system under test, as `measure` drives it. */
interface Contender {
  system: ThroughputRun['system'];
  setup: string;
  outputTopic: string;
  /** Its processes, sampled under these names. */
  processes: SampledProcess[];
  start(): Promise<void>;
  /** Why it cannot make progress any more (its processes died), if so. */
  failure(): string | undefined;
  crashes(): string[];
  stop(): Promise<void>;
}

/** Runs the scenario on its own topics; stops everything it started and deletes the topics after. */
export async function runThroughputBench(options: ThroughputBenchOptions): Promise<ThroughputBenchResult> {
  const progress = options.progress ?? (() => undefined);
  const keys = Math.max(1, Math.min(KEYS, options.records));
  const perKey = Math.ceil(options.records / keys);
  const records = keys * perKey;
  const keyNames = Array.from({ length: keys }, (_, i) => `k${i}`);

  progress('throughput: the Kafka Streams app (built with Maven on first use)');
  const classpath = buildKafkaStreamsApp(options.config.local.cacheDir, options.logger);

  const prefix = `bench_throughput_${Date.now()}`;
  const topics = { input: `${prefix}.input`, eddyOutput: `${prefix}.output`, kafkaStreamsOutput: `${prefix}.kafka-streams.output` };
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-throughput-'));
  const admin = options.kafka.admin();
  // No retries: a retried send could land after a later one and break the per-key seq order the
  // verifier relies on. On a local broker nothing fails; if something does, the run stops loudly.
  const producer = options.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  const brokerPid = kafkaPid(options.config);
  const context = { options, keyNames, perKey, records, prefix, progress, brokerPid };
  try {
    await admin.connect();
    await createTopicsReady(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
    await producer.connect();
    progress(`throughput: preloading ${records.toLocaleString('en-US')} records (${keys.toLocaleString('en-US')} keys × ${perKey.toLocaleString('en-US')})`);
    const preloadStarted = Date.now();
    await preload(producer, topics.input, keyNames, perKey, options.signal);
    const preloadSec = (Date.now() - preloadStarted) / 1000;
    await producer.disconnect();

    const threads = options.threadsPerWorker ?? options.config.worker.threads;
    const eddy = await measure(context, eddyContender(options, dir, prefix, topics.eddyOutput, threads));
    await sleep(5_000); // let the broker finish what Eddy's last transactions left it
    const kafkaStreams = await measure(context, kafkaStreamsContender(options, dir, classpath, prefix, topics.input, topics.kafkaStreamsOutput));
    const ratio = eddy.outputsPerSec !== null && kafkaStreams.outputsPerSec !== null && kafkaStreams.outputsPerSec > 0
      ? Math.round((eddy.outputsPerSec / kafkaStreams.outputsPerSec) * 100) / 100 : null;
    return { records, keys, perKey, partitions: EOS_PARTITIONS, preloadSec, eddy, kafkaStreams, ratio, kafkaStreamsVersion, jvmArgs };
  } finally {
    await producer.disconnect().catch(() => undefined);
    // The input, both outputs, Eddy's commit and dead-letter topics, Kafka Streams' changelog.
    await deleteTopicsContaining(admin, prefix);
    await admin.deleteGroups([`${prefix}.kafka-streams`, `${prefix}.watch-eddy`, `${prefix}.watch-kafka-streams`]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends every key's records seq 1..perKey. Four lanes send at once, each for its own quarter of
 * the keys and one batch at a time, so a key's records are in seq order whatever order the
 * lanes' requests land in.
 */
async function preload(producer: Producer, topic: string, keyNames: readonly string[], perKey: number, signal: AbortSignal | undefined): Promise<void> {
  const lanes = 4;
  let failed = false;
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    const laneKeys = keyNames.filter((_key, i) => i % lanes === lane);
    if (laneKeys.length === 0) return;
    const seqsPerBatch = Math.max(1, Math.floor(5_000 / laneKeys.length));
    try {
      for (let first = 1; first <= perKey && !failed; first += seqsPerBatch) {
        if (signal?.aborted === true) throw new Error('throughput bench: interrupted');
        const messages: Message[] = [];
        for (let seq = first; seq < Math.min(perKey + 1, first + seqsPerBatch); seq++) {
          for (const key of laneKeys) messages.push({ key, value: `{"key":"${key}","seq":${seq}}` });
        }
        await producer.send({ topic, messages });
      }
    } catch (err) {
      failed = true;
      throw err;
    }
  }));
}

function eddyContender(options: ThroughputBenchOptions, dir: string, prefix: string, outputTopic: string, threads: number): Contender {
  let cluster: LocalCluster | undefined;
  const names = ['coordinator', ...Array.from({ length: options.workers }, (_, i) => `worker-${i + 1}`)];
  const crashes = () => (cluster?.unexpectedExits() ?? []).map((e) => `${e.name} exited (${e.signal ?? `code ${e.code}`})`);
  return {
    system: 'eddy',
    setup: `eos-check, ${options.workers} workers × ${threads} threads, checkpoint every ${options.config.checkpoint.intervalMs} ms`,
    outputTopic,
    processes: names.map((name) => ({ name, pid: () => cluster?.pid(name) })),
    async start() {
      cluster = new LocalCluster({
        job: 'eos-check', workers: options.workers, brokers: options.brokers, dir: join(dir, 'eddy'), controlPort: await freePort(), adminPort: await freePort(),
        threadsPerWorker: options.threadsPerWorker, env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_LOG_LEVEL: 'warn' },
      });
      await cluster.start();
    },
    failure() {
      const exited = new Set((cluster?.unexpectedExits() ?? []).map((e) => e.name));
      if (exited.has('coordinator')) return `the coordinator exited (logs in ${join(dir, 'eddy', 'logs')})`;
      if (names.slice(1).every((name) => exited.has(name))) return 'every worker exited';
      return undefined;
    },
    crashes,
    async stop() {
      await cluster?.stop();
    },
  };
}

function kafkaStreamsContender(options: ThroughputBenchOptions, dir: string, classpath: string, prefix: string, inputTopic: string, outputTopic: string): Contender {
  const pidFile = join(dir, 'kafka-streams.pid');
  const logFile = join(dir, 'kafka-streams.log');
  let pid: number | undefined;
  let stopping = false;
  const exited = () => pid !== undefined && !stopping && !isAlive(pid);
  const java = requireCommand('java', 'install a Java 17 runtime (Debian: apt-get install openjdk-17-jdk-headless).');
  return {
    system: 'kafka-streams',
    setup: `Kafka Streams ${kafkaStreamsVersion}, ${kafkaStreamsSetup}, -Xmx512m`,
    outputTopic,
    processes: [{ name: 'kafka-streams', pid: () => pid }],
    start() {
      pid = startDaemon({
        name: 'kafka-streams', command: java, pidFile, logFile,
        args: [...jvmArgs, '-cp', classpath, mainClass, '--bootstrap-servers', options.brokers.join(','), '--application-id', `${prefix}.kafka-streams`,
          '--input-topic', inputTopic, '--output-topic', outputTopic, '--state-dir', join(dir, 'kafka-streams-state')],
      });
      return Promise.resolve();
    },
    failure: () => (exited() ? `the Kafka Streams process exited; last lines of its log:\n${logTail(logFile)}` : undefined),
    crashes: () => (exited() ? ['kafka-streams exited'] : []),
    async stop() {
      stopping = true;
      await stopDaemon(pidFile, 30_000);
    },
  };
}

interface Context {
  options: ThroughputBenchOptions;
  keyNames: string[];
  perKey: number;
  records: number;
  prefix: string;
  progress: (line: string) => void;
  brokerPid: number | undefined;
}

/** Launches the contender with a watcher and a sampler in place, waits for its last output, stops it and verifies the output. */
async function measure(ctx: Context, contender: Contender): Promise<ThroughputRun> {
  const { options, records, progress } = ctx;
  progress(`throughput: ${contender.system} (${contender.setup})`);
  const watcher = new OutputWatcher(options.kafka, contender.outputTopic, `${ctx.prefix}.watch-${contender.system}`, records);
  const sampler = new ProcessSampler([
    ...contender.processes,
    { name: 'kafka', pid: () => ctx.brokerPid },
    { name: 'bench', pid: () => process.pid },
  ]);
  let usage: SampledUsage | undefined;
  let outcome: { complete: boolean; problem?: string };
  let startedAt: number;
  let crashes: string[];
  try {
    await watcher.start();
    sampler.start();
    startedAt = Date.now();
    await contender.start();
    outcome = await waitForOutputs(watcher, contender, startedAt, records, progress, options.signal);
    usage = await sampler.stop();
    if (outcome.complete) await sleep(settleMs);
    crashes = contender.crashes();
  } finally {
    if (usage === undefined) await sampler.stop();
    await contender.stop();
    await watcher.stop();
  }

  progress(`throughput: verifying ${contender.system}'s output with a fresh read_committed reader`);
  const readStarted = Date.now();
  const outputs = await readEosOutputs(options.kafka, contender.outputTopic, ctx.keyNames, ctx.perKey, { timeoutMs: 120_000, settleMs: 2_000 });
  const readSec = Math.max(0.001, (Date.now() - readStarted - 2_000) / 1000);
  const verdict = verifyEosOutputs(outputs, ctx.keyNames, ctx.perKey);

  const sec = (at: number | undefined) => (at === undefined ? null : round1((at - startedAt) / 1000));
  const own = contender.processes.map((p) => usage.processes[p.name]).filter((u) => u !== undefined);
  const { at10, at90 } = watcher;
  const lastOutputSec = sec(watcher.lastAt);
  return {
    system: contender.system,
    setup: contender.setup,
    ...outcome,
    outputsSeen: watcher.seen,
    firstOutputSec: sec(watcher.firstAt),
    outputsPerSec: at10 !== undefined && at90 !== undefined && at90.at > at10.at ? Math.round(((at90.count - at10.count) * 1000) / (at90.at - at10.at)) : null,
    lastOutputSec,
    overallPerSec: outcome.complete && lastOutputSec !== null && lastOutputSec > 0 ? Math.round(records / lastOutputSec) : null,
    cpuPctAvg: round1(own.reduce((sum, u) => sum + u.cpuPctAvg, 0)),
    rssMbMax: Math.round(own.reduce((sum, u) => sum + u.rssMbMax, 0)),
    brokerCpuPctAvg: usage.processes.kafka?.cpuPctAvg,
    benchCpuPctAvg: usage.processes.bench?.cpuPctAvg,
    crashes,
    usage,
    verdict,
    readerPerSec: Math.round(outputs.length / readSec),
  };
}

async function waitForOutputs(
  watcher: OutputWatcher, contender: Contender, startedAt: number, expected: number, progress: (line: string) => void, signal: AbortSignal | undefined,
): Promise<{ complete: boolean; problem?: string }> {
  let reportedAt = Date.now();
  for (;;) {
    if (signal?.aborted === true) throw new Error('throughput bench: interrupted');
    if (watcher.seen >= expected) return { complete: true };
    const failure = contender.failure();
    if (failure !== undefined) return { complete: false, problem: failure };
    if (Date.now() - (watcher.lastAt ?? startedAt) > stallMs) return { complete: false, problem: `no new output for ${stallMs / 1000} s` };
    if (Date.now() - reportedAt >= 15_000) {
      progress(`throughput: ${contender.system}: ${watcher.seen.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} outputs after ${Math.round((Date.now() - startedAt) / 1000)} s`);
      reportedAt = Date.now();
    }
    await sleep(50);
  }
}

/** Counts the outputs a read_committed consumer sees, and notes when. */
class OutputWatcher {
  seen = 0;
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** When the count first reached 10 % and 90 % of the expected outputs, and what it was then. */
  at10: { at: number; count: number } | undefined;
  at90: { at: number; count: number } | undefined;
  private readonly consumer: Consumer;

  constructor(kafka: Kafka, private readonly topic: string, groupId: string, private readonly expected: number) {
    this.consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  }

  /** Resolves once the consumer joined its group, so it sees the output from the first record. */
  async start(): Promise<void> {
    let joined: () => void = () => undefined;
    const join = new Promise<void>((resolve) => (joined = resolve));
    const removeListener = this.consumer.on(this.consumer.events.GROUP_JOIN, () => joined());
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        this.note(batch.messages.length);
        return Promise.resolve();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`throughput bench: the consumer of ${this.topic} did not join its group within 60 s`)), 60_000);
    });
    try {
      await Promise.race([join, timeout]);
    } finally {
      clearTimeout(timer);
      removeListener();
    }
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
  }

  private note(count: number): void {
    if (count === 0) return;
    const now = Date.now();
    this.seen += count;
    this.firstAt ??= now;
    this.lastAt = now;
    if (this.at10 === undefined && this.seen >= 0.1 * this.expected) this.at10 = { at: now, count: this.seen };
    if (this.at90 === undefined && this.seen >= 0.9 * this.expected) this.at90 = { at: now, count: this.seen };
  }
}

function logTail(logFile: string): string {
  if (!existsSync(logFile)) return '(no log)';
  return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The result as a Markdown table. */
export function throughputMarkdown(r: ThroughputBenchResult): string {
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toLocaleString('en-US'));
  const s = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} s`);
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${v.toFixed(0)} %`);
  const row = (name: string, run: ThroughputRun) => {
    const v = run.verdict;
    return `| ${name} | ${s(run.firstOutputSec)} | **${n(run.outputsPerSec)}** | ${s(run.lastOutputSec)} | ${n(run.overallPerSec)} | ${pct(run.cpuPctAvg)} | ${n(run.rssMbMax)} MB | ${pct(run.brokerCpuPctAvg)} | ${n(v.outputs)} / ${v.lost} / ${v.duplicated} / ${v.wrongCounts} |`;
  };
  const others = (run: ThroughputRun) => (run.usage.machine === undefined ? '—' : `${run.usage.machine.othersCpuPctAvg.toFixed(0)} %`);
  const problems = [r.eddy, r.kafkaStreams].flatMap((run) => [
    ...(run.complete ? [] : [`**${run.system} did not finish:** ${run.problem ?? 'unknown'}`]),
    ...(run.crashes.length > 0 ? [`${run.system}: ${run.crashes.join(', ')}`] : []),
  ]);
  return [
    `### throughput: ${r.records.toLocaleString('en-US')} preloaded records (${r.keys.toLocaleString('en-US')} keys, ${r.partitions} partitions), Eddy vs Kafka Streams ${r.kafkaStreamsVersion}, exactly-once both`,
    '',
    '| system | first output | outputs/s (10–90 %) | last output | outputs/s overall | CPU avg | RSS max | broker CPU avg | verified: outputs / lost / duplicated / wrong counts |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    row(`Eddy (${r.eddy.setup})`, r.eddy),
    row(`Kafka Streams (${kafkaStreamsSetup})`, r.kafkaStreams),
    '',
    `**Eddy / Kafka Streams, outputs/s (10–90 %): ${r.ratio === null ? '—' : r.ratio.toFixed(2)}.** Times are from launching the system's first process, as a read_committed consumer saw the outputs; CPU is % of one core (the machine has 2), summed over the system's processes (Eddy: coordinator and workers; Kafka Streams: its JVM, ${r.jvmArgs[0]}), from launch to the last output; RSS is the sum of each process's largest. Preload: ${r.preloadSec.toFixed(1)} s. Other processes on the machine used ${others(r.eddy)} (Eddy run) and ${others(r.kafkaStreams)} (Kafka Streams run) of a core on average; the watching consumer (this process) ${pct(r.eddy.benchCpuPctAvg)} and ${pct(r.kafkaStreams.benchCpuPctAvg)}. A fresh read_committed reader alone reads ${n(r.eddy.readerPerSec)} and ${n(r.kafkaStreams.readerPerSec)} outputs/s (the ceiling of what the watcher can see).`,
    ...(problems.length > 0 ? ['', ...problems] : []),
  ].join('\n');
}

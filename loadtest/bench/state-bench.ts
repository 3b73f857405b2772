/**
 * The `state` scenario of `npm run bench`: what checkpoints cost when a job holds a lot of state.
 * A fresh local cluster runs `eos-check` (a keyed count, exactly-once) on its own topics; the
 * benchmark loads `keys` distinct keys, waits until checkpoints cover all of them, and then
 * measures two phases:
 *
 * - **idle**: no input at all. Checkpoint duration and bytes written, workers' CPU and RSS.
 * - **churn**: `churnPct` % of the keys (chosen at random) updated per second. The same figures,
 *   and the input rate checkpoints kept up with.
 *
 * Then the restore time of one task: its chain (base and deltas) from the newest manifest,
 * verified and loaded into a fresh LevelDB, timed in this process. Checkpoint figures come from
 * the coordinator's `/api/v1/checkpoints` (each completed checkpoint's trigger-to-manifest time
 * and the bytes its snapshots wrote), polled so that no checkpoint of a phase is missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message } from 'kafkajs';
import type { Logger } from '../../common/logger.ts';
import { createTopicsReady, deleteTopicsContaining } from '../../common/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';
import { checkpointStoreFor, type CheckpointStore } from '../../state/checkpoint-store.ts';
import { chainSize } from '../../state/snapshot-chain.ts';
import { restoreTaskStore } from '../../state/task-store-open.ts';
import { ProcessSampler, type SampledUsage } from './process-sampler.ts';

export interface StateBenchOptions {
  kafka: Kafka;
  brokers: string[];
  /** Distinct keys loaded before measuring. */
  keys: number;
  /** Percent of the keys updated per second in the churn phase. */
  churnPct: number;
  idleSec: number;
  churnSec: number;
  workers: number;
  threadsPerWorker?: number;
  /** Records per second while loading the keys (default 25,000; as fast as Kafka takes them, 2 cores are overloaded and workers miss heartbeats). */
  loadRate?: number;
  logger: Logger;
  progress?: (line: string) => void;
  /** Aborts the run (Ctrl-C): it stops and cleans up at the next step. */
  signal?: AbortSignal;
}

type CheckpointFigures = { completed: number; abandoned: number; durationMs: { p50: number; p99: number; max: number }; bytesPerCheckpoint: { avg: number; max: number } };

type Phase = { seconds: number; checkpoints: CheckpointFigures; usage: SampledUsage; inputPerSec: number; committedPerSec: number };

export interface StateBenchResult {
  keys: number;
  workers: number;
  partitions: number;
  loadSec: number;
  idle: Phase;
  churn: Phase & { churnPct: number };
  restore: { task: number; links: number; baseBytes: number; deltaBytes: number; records: number; ms: number };
}

type HistoryRecord = { id: number; state: 'pending' | 'completed' | 'abandoned'; durationMs: number; bytes: number };

/** Runs the scenario on its own cluster and topics; stops the cluster and deletes the topics after. */
export async function runStateBench(options: StateBenchOptions): Promise<StateBenchResult> {
  const progress = options.progress ?? (() => undefined);
  const prefix = `bench_state_${Date.now()}`;
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-state-'));
  const adminPort = await freePort();
  const cluster = new LocalCluster({
    job: 'eos-check', workers: options.workers, brokers: options.brokers, dir, controlPort: await freePort(), adminPort,
    threadsPerWorker: options.threadsPerWorker, env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_LOG_LEVEL: 'warn' },
  });
  const store = checkpointStoreFor(join(dir, 'checkpoints'), `eos-check.${prefix}`);
  const admin = options.kafka.admin();
  const producer = options.kafka.producer({ allowAutoTopicCreation: false });
  const sampler = () => new ProcessSampler(cluster.workerNames().map((name) => ({ name, pid: () => cluster.pid(name) })));
  const history = new CheckpointPoller(`http://127.0.0.1:${adminPort}/api/v1/checkpoints`);
  try {
    await admin.connect();
    await createTopicsReady(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
    await producer.connect();
    await cluster.start();
    await cluster.waitUntilRunning(120_000);
    history.start();

    progress(`state: loading ${options.keys.toLocaleString('en-US')} keys`);
    const loadStarted = Date.now();
    await paced(options.loadRate ?? 25_000, options.keys, options.signal, (from, count) => produce(producer, topics.input, count, (i) => from + i));
    await waitCommitted(store, options.keys, progress, options.signal);
    const loadSec = (Date.now() - loadStarted) / 1000;
    // The checkpoints right after the load still delete the published outputs and may compact:
    // idle starts once a checkpoint wrote next to nothing (or after 60 s).
    await history.settled(64 * 1024, 60_000);

    progress(`state: idle for ${options.idleSec} s`);
    const idle = await phase(options.idleSec, sampler(), history, store, () => Promise.resolve(0));

    const rate = Math.max(1, Math.round((options.keys * options.churnPct) / 100));
    progress(`state: ${options.churnPct} % of the keys per second (${rate.toLocaleString('en-US')} updates/s) for ${options.churnSec} s`);
    const churn = await phase(options.churnSec, sampler(), history, store, (stopAt) => churnInput(producer, topics.input, options.keys, rate, stopAt));

    progress('state: restoring one task from the newest checkpoint');
    const restore = await timeRestore(store, dir);
    return { keys: options.keys, workers: options.workers, partitions: EOS_PARTITIONS, loadSec, idle, churn: { ...churn, churnPct: options.churnPct }, restore };
  } finally {
    history.stop();
    await producer.disconnect().catch(() => undefined);
    await cluster.stop();
    await deleteTopicsContaining(admin, prefix);
    await admin.disconnect().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function phase(seconds: number, sampler: ProcessSampler, history: CheckpointPoller, store: CheckpointStore, input: (stopAt: number) => Promise<number>): Promise<Phase> {
  const committedBefore = await committedInput(store);
  const fromId = history.newestId();
  sampler.start();
  const startedAt = Date.now();
  const sent = await Promise.all([input(startedAt + seconds * 1000), sleep(seconds * 1000)]).then(([n]) => n);
  const elapsed = (Date.now() - startedAt) / 1000;
  const usage = await sampler.stop();
  const committedPerSec = Math.round(((await committedInput(store)) - committedBefore) / elapsed);
  return { seconds, checkpoints: history.figures(fromId), usage, inputPerSec: Math.round(sent / elapsed), committedPerSec };
}

/** Sends `count` records `{key: k<keyOf(i)>, seq: 1}` as fast as Kafka takes them, a few batches in flight. */
async function produce(producer: ReturnType<Kafka['producer']>, topic: string, count: number, keyOf: (i: number) => number): Promise<void> {
  const batch = 5_000;
  const inFlight: Promise<unknown>[] = [];
  for (let start = 0; start < count; start += batch) {
    const messages: Message[] = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const key = `k${keyOf(i)}`;
      messages.push({ key, value: `{"key":"${key}","seq":1}` });
    }
    inFlight.push(producer.send({ topic, messages, acks: 1 }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

/** `rate` updates of random existing keys per second until `stopAt`, sent every 100 ms; returns how many were sent. */
async function churnInput(producer: ReturnType<Kafka['producer']>, topic: string, keys: number, rate: number, stopAt: number): Promise<number> {
  let sent = 0;
  const startedAt = Date.now();
  while (Date.now() < stopAt) {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * rate) - sent;
    if (due > 0) {
      await produce(producer, topic, due, () => Math.floor(Math.random() * keys));
      sent += due;
    }
    await sleep(100);
  }
  return sent;
}

/** Input records covered by the newest complete checkpoint. */
async function committedInput(store: CheckpointStore): Promise<number> {
  const newest = (await store.completed().catch(() => [] as number[]))[0];
  if (newest === undefined) return 0;
  const manifest = await store.readManifest(newest).catch(() => undefined);
  return manifest === undefined ? 0 : manifest.tasks.reduce((sum, task) => sum + Object.values(task.offsets).reduce((s, o) => s + Number(o), 0), 0);
}

/** Calls `send(from, count)` for `total` records at `rate` per second, in steps of 100 ms. */
async function paced(rate: number, total: number, signal: AbortSignal | undefined, send: (from: number, count: number) => Promise<void>): Promise<void> {
  const startedAt = Date.now();
  for (let sent = 0; sent < total; ) {
    signal?.throwIfAborted();
    const due = Math.min(total, Math.floor(((Date.now() - startedAt) / 1000) * rate)) - sent;
    if (due > 0) {
      await send(sent, due);
      sent += due;
    }
    await sleep(100);
  }
}

async function waitCommitted(store: CheckpointStore, count: number, progress: (line: string) => void, signal?: AbortSignal): Promise<void> {
  let lastReport = Date.now();
  for (;;) {
    signal?.throwIfAborted();
    const committed = await committedInput(store);
    if (committed >= count) return;
    if (Date.now() - lastReport > 15_000) {
      progress(`state: ${committed.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} keys checkpointed`);
      lastReport = Date.now();
    }
    await sleep(500);
  }
}

/** Restores task 0 of the newest checkpoint into a fresh directory, timed. */
async function timeRestore(store: CheckpointStore, dir: string): Promise<StateBenchResult['restore']> {
  const newest = (await store.completed())[0];
  if (newest === undefined) throw new Error('state bench: no complete checkpoint to restore');
  const task = 0;
  const chain = await store.chainOf(newest, task);
  const startedAt = performance.now();
  const restored = await restoreTaskStore(join(dir, 'restore-probe', `task-${task}`), { task, root: store.root, chain });
  const ms = Math.round(performance.now() - startedAt);
  await restored.close();
  const { baseBytes, deltaBytes } = chainSize(chain);
  return { task, links: chain.length, baseBytes, deltaBytes, records: chain.reduce((sum, link) => sum + link.records, 0), ms };
}

/** Polls the coordinator's checkpoint history often enough to see every checkpoint (it keeps 20). */
class CheckpointPoller {
  private readonly seen = new Map<number, HistoryRecord>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly url: string) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), 500);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  newestId(): number {
    return Math.max(0, ...this.seen.keys());
  }

  /** Waits until a checkpoint completes having written less than `bytes` in all, or `timeoutMs` passes. */
  async settled(bytes: number, timeoutMs: number): Promise<void> {
    const after = this.newestId();
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(250)) {
      if ([...this.seen.values()].some((r) => r.id > after && r.state === 'completed' && r.bytes < bytes)) return;
    }
  }

  /** Checkpoints triggered after `afterId` that have ended. */
  figures(afterId: number): CheckpointFigures {
    const ended = [...this.seen.values()].filter((r) => r.id > afterId && r.state !== 'pending');
    const completed = ended.filter((r) => r.state === 'completed');
    const durations = completed.map((r) => r.durationMs).sort((a, b) => a - b);
    const bytes = completed.map((r) => r.bytes);
    const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
    return {
      completed: completed.length,
      abandoned: ended.length - completed.length,
      durationMs: { p50: at(0.5), p99: at(0.99), max: durations.at(-1) ?? 0 },
      bytesPerCheckpoint: { avg: Math.round(bytes.reduce((s, b) => s + b, 0) / Math.max(1, bytes.length)), max: Math.max(0, ...bytes) },
    };
  }

  private async poll(): Promise<void> {
    try {
      const body = (await (await fetch(this.url)).json()) as { recent: HistoryRecord[] };
      for (const record of body.recent) this.seen.set(record.id, record);
    } catch {
      // the coordinator is starting or stopping
    }
  }
}

/** The result as a Markdown table. */
export function stateMarkdown(r: StateBenchResult): string {
  const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(bytes < 1_048_576 ? 3 : 1)} MB`;
  const row = (name: string, p: Phase) => {
    const c = p.checkpoints;
    const workers = Object.values(p.usage.processes);
    const cpu = workers.map((w) => w.cpuPctAvg.toFixed(1)).join(' / ');
    const rss = workers.map((w) => w.rssMbMax.toFixed(0)).join(' / ');
    return `| ${name} | ${c.completed} (${c.abandoned} abandoned) | ${c.durationMs.p50} / ${c.durationMs.p99} / ${c.durationMs.max} ms | ${mb(c.bytesPerCheckpoint.avg)} (max ${mb(c.bytesPerCheckpoint.max)}) | ${p.inputPerSec} / ${p.committedPerSec} | ${cpu} % | ${rss} MB |`;
  };
  return [
    `### state: ${r.keys.toLocaleString('en-US')} keys in eos-check, ${r.workers} workers, ${r.partitions} tasks (loaded and checkpointed in ${r.loadSec.toFixed(0)} s)`,
    '',
    '| phase | checkpoints | duration p50 / p99 / max | written per checkpoint | input sent / committed per s | workers\' CPU avg | workers\' RSS max |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row(`idle, ${r.idle.seconds} s`, r.idle),
    row(`${r.churn.churnPct} % of keys/s, ${r.churn.seconds} s`, r.churn),
    '',
    `Restore of task ${r.restore.task} from the newest checkpoint: ${r.restore.links} file(s), base ${mb(r.restore.baseBytes)} + deltas ${mb(r.restore.deltaBytes)}, ${r.restore.records.toLocaleString('en-US')} records, ${r.restore.ms} ms (verify and load into a fresh LevelDB).`,
  ].join('\n');
}

/**
 * The nemesis run: `eos-check` on a coordinator and N workers while a seeded plan of faults
 * (schedule.ts) is carried out against them, alone and combined; afterwards an independent
 * read_committed reader counts what was lost, doubled or miscounted, per fault kind.
 *
 * Everything the faults act on is real and the run's own:
 * - a Kafka broker of its own (killed and restarted by the broker fault), with one extra
 *   listener per worker whose metadata points at a proxy, so each worker reaches Kafka only
 *   through a TCP proxy the run can blackhole (tcp-proxy.ts);
 * - each worker reaches the coordinator through another such proxy;
 * - the checkpoint store on a tmpfs of its own, filled or made read-only (store-volume.ts);
 * - each worker's wall clock under libfaketime, moved through a file (monotonic time untouched,
 *   as an NTP step leaves it);
 * - SIGKILL, SIGSTOP and SIGCONT of real processes.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import type { EddyConfig } from '../../../common/config.ts';
import type { Logger } from '../../../common/logger.ts';
import { freePort, LocalCluster } from '../../../deploy/local/local-cluster.ts';
import { kafkaPid, startKafka, stopKafka, type ProxiedListener } from '../../../deploy/local/kafka.ts';
import { isAlive } from '../../../deploy/local/processes.ts';
import { CheckpointStore } from '../../../state/checkpoint-store.ts';
import { chainOf } from '../../../state/snapshot-chain.ts';
import { findEosProblems, readEosOutputs, type EosVerdict } from '../eos-verifier.ts';
import { median, produce, waitRunning } from '../run-chaos.ts';
import { describeFault, planNemesis, type Fault, type FaultKind, type FaultRecord, type Round } from './schedule.ts';
import { StoreVolume } from './store-volume.ts';
import { TcpProxy } from './tcp-proxy.ts';

const fakeTimeLibrary = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
/** The cluster must run every task again within this long after the last fault of a round healed. */
export const convergeBoundMs = 120_000;

export interface NemesisOptions {
  /** For the Kafka jars' cache and the broker's heap; the run's broker gets its own ports and directory. */
  config: EddyConfig;
  natsUrl?: string;
  kinds: readonly FaultKind[];
  rounds: number;
  records: number;
  keys: number;
  rate: number;
  workers: number;
  seed: number;
  checkpointIntervalMs: number;
  /** Seconds between rounds (±50 %). */
  gapSec: number;
  logger: Logger;
  dir?: string;
}

export interface KindVerdict {
  faults: number;
  lost: number;
  duplicated: number;
  wrongCounts: number;
  convergedMsP50: number;
  convergedMsMax: number;
}

export interface NemesisResult extends EosVerdict {
  seed: number;
  kinds: FaultKind[];
  rounds: number;
  produced: number;
  /**
   * Per fault kind: faults injected, the problems whose record was produced while one of them was
   * active (from 10 s before it until the cluster converged after it; a problem can count for
   * several kinds in combined rounds), and how long the cluster took to converge after each.
   */
  byKind: Partial<Record<FaultKind, KindVerdict>>;
  /** Problems produced outside every fault's window. */
  unattributed: { lost: number; duplicated: number; wrongCounts: number };
  /** For a failing run: where the problems are (output partition = task), and a few of them. */
  diagnostics?: { duplicatedByPartition: Record<string, number>; lostByKey: Record<string, number>; samples: unknown[] };
  /** Every round converged within `convergeBoundMs`, every output arrived, and no process crashed. */
  converged: boolean;
  /** Processes that exited without the nemesis killing them (a crash is a failure of the run). */
  crashes: readonly { name: string; code: number | null; signal: string | null; atMs: number }[];
  convergeBoundMs: number;
  /** From the last fault's heal until the reader had every key's last output. */
  lastHealToCaughtUpMs: number;
  durationSec: number;
  faults: FaultRecord[];
  topicPrefix: string;
  logs: string;
}

/** Everything a fault may act on. */
interface Targets {
  cluster: LocalCluster;
  kafkaConfig: EddyConfig;
  listeners: ProxiedListener[];
  kafkaProxies: Map<string, TcpProxy>;
  coordinatorProxies: Map<string, TcpProxy>;
  volume: StoreVolume | undefined;
  store: CheckpointStore;
  clockFile: (worker: string) => string;
  heartbeatTimeoutMs: number;
  workers: number;
  logger: Logger;
}

export async function runNemesis(options: NemesisOptions): Promise<NemesisResult> {
  const startedAt = Date.now();
  const prefix = `eddy.nemesis.${startedAt}`;
  const job = `eos-check.${prefix}`;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'eddy-nemesis-'));
  const { logger } = options;
  const heartbeatTimeoutMs = options.config.cluster.heartbeatTimeoutMs;
  const names = Array.from({ length: options.workers }, (_, i) => `worker-${i + 1}`);
  const wants = (kind: FaultKind): boolean => options.kinds.includes(kind);
  if (wants('clock-jump') && !existsSync(fakeTimeLibrary)) {
    throw new Error(`nemesis: the clock-jump fault runs workers under libfaketime (${fakeTimeLibrary}); install it (Debian: apt-get install faketime)`);
  }
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    // The checkpoint store on a volume of its own.
    const checkpoints = join(dir, 'checkpoints');
    let volume: StoreVolume | undefined;
    if (wants('store-full') || wants('store-readonly')) {
      volume = new StoreVolume(checkpoints);
      volume.mount();
      cleanups.push(() => (volume as StoreVolume).unmount());
    }
    // A broker of our own, each worker behind its own proxied listener.
    const kafkaPort = await freePort();
    const kafkaConfig: EddyConfig = {
      ...options.config,
      local: { ...options.config.local, stateDir: join(dir, 'stack'), kafkaPort, kafkaControllerPort: await freePort() },
    };
    const listeners: ProxiedListener[] = [];
    for (const [i] of names.entries()) listeners.push({ name: `NEMESIS${i + 1}`, port: await freePort(), advertisedPort: await freePort() });
    const kafkaProxies = new Map<string, TcpProxy>();
    for (const [i, name] of names.entries()) {
      const listener = listeners[i] as ProxiedListener;
      kafkaProxies.set(name, await TcpProxy.start({ host: '127.0.0.1', port: listener.port }, listener.advertisedPort));
    }
    cleanups.push(() => Promise.all([...kafkaProxies.values()].map((p) => p.close())));
    logger.info({ kafkaPort, dir }, 'nemesis: starting its own Kafka broker');
    cleanups.push(() => stopKafka(kafkaConfig));
    await startKafka(kafkaConfig, logger, { proxiedListeners: listeners });
    const brokers = [`127.0.0.1:${kafkaPort}`];
    // Tools ride out a broker restart: kafkajs retries the same request (the idempotent producer keeps its sequence numbers).
    const kafka = new Kafka({ brokers, clientId: 'eddy-nemesis', logLevel: logLevel.NOTHING, retry: { retries: 60, initialRetryTime: 300, maxRetryTime: 5_000 } });

    const controlPort = await freePort();
    const coordinatorProxies = new Map<string, TcpProxy>();
    for (const name of names) coordinatorProxies.set(name, await TcpProxy.start({ host: '127.0.0.1', port: controlPort }));
    cleanups.push(() => Promise.all([...coordinatorProxies.values()].map((p) => p.close())));
    const clockFile = (worker: string): string => join(dir, `clock-${worker}.rc`);
    for (const name of names) writeFileSync(clockFile(name), '+0\n');

    const cluster = new LocalCluster({
      job: 'eos-check', workers: options.workers, brokers, natsUrl: options.natsUrl, dir, controlPort, adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_INTERVAL_MS: String(options.checkpointIntervalMs) },
      coordinatorAddress: (worker) => `127.0.0.1:${(coordinatorProxies.get(worker) as TcpProxy).port}`,
      memberEnv: (name) => {
        const listener = listeners[names.indexOf(name)];
        if (listener === undefined) return {};
        return {
          EDDY_KAFKA_BROKERS: `127.0.0.1:${listener.advertisedPort}`,
          ...(wants('clock-jump') && {
            LD_PRELOAD: fakeTimeLibrary, FAKETIME_TIMESTAMP_FILE: clockFile(name), FAKETIME_CACHE_DURATION: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1',
          }),
        };
      },
    });
    cleanups.push(() => cluster.stop()); // cleanups run last-first: the cluster stops before its broker, proxies and volume
    await cluster.start();
    const view = await cluster.waitUntilRunning(120_000);
    const targets: Targets = {
      cluster, kafkaConfig, listeners, kafkaProxies, coordinatorProxies, volume, workers: options.workers, logger,
      store: new CheckpointStore(join(checkpoints, job)), clockFile, heartbeatTimeoutMs,
    };
    const plan = planNemesis({
      seed: options.seed, kinds: options.kinds, rounds: options.rounds, workers: options.workers, tasks: view.tasks.length, heartbeatTimeoutMs, gapSec: options.gapSec,
    });
    logger.info({ prefix, seed: options.seed, rounds: plan.length, plan: plan.map((r) => r.faults.map(describeFault).join(' + ')) }, 'nemesis: cluster running; producing and starting the plan');

    const keys = Array.from({ length: options.keys }, (_, i) => `k${i}`);
    const n = Math.ceil(options.records / options.keys);
    const seqSentAt: number[] = [];
    const production = produce(kafka, `${prefix}.input`, keys, n, options.rate, logger, seqSentAt);
    const records: FaultRecord[] = [];
    let converged = true;
    for (const round of plan) {
      const outcome = await runRound(round, targets);
      records.push(...outcome.records);
      converged &&= outcome.converged;
      if (!outcome.converged) break;
    }
    const produced = await production.promise;
    const lastHealMs = Math.max(0, ...records.map((r) => r.healedAtMs));
    logger.info({ produced, faults: records.length }, 'nemesis: plan done, production done; reading the output');
    const outputs = await readEosOutputs(kafka, `${prefix}.output`, keys, n, { timeoutMs: convergeBoundMs, settleMs: 3 * options.checkpointIntervalMs + 2_000 });
    const caughtUpMs = Date.now() - 3 * options.checkpointIntervalMs - 2_000 - lastHealMs;
    const problems = findEosProblems(outputs, keys, n);
    const allArrived = keys.every((key) => outputs.some((o) => o.key === key && o.seq === n));
    const { byKind, unattributed } = attribute(problems, records, seqSentAt);
    return {
      seed: options.seed,
      kinds: [...options.kinds],
      rounds: plan.length,
      produced,
      outputs: outputs.length,
      lost: problems.lost.length,
      duplicated: problems.duplicated.length,
      wrongCounts: problems.wrongCounts.length,
      byKind,
      unattributed,
      converged: converged && allArrived && cluster.unexpectedExits().length === 0,
      crashes: [...cluster.unexpectedExits()],
      convergeBoundMs,
      lastHealToCaughtUpMs: Math.max(0, caughtUpMs),
      durationSec: Math.round((Date.now() - startedAt) / 1000),
      faults: records,
      ...(problems.lost.length + problems.duplicated.length + problems.wrongCounts.length > 0 && { diagnostics: diagnose(problems) }),
      topicPrefix: prefix,
      logs: join(dir, 'logs'),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => logger.warn({ err: String(err) }, 'nemesis: cleanup step failed'));
  }
}

/** Injects a round's faults together, heals them, and waits until the cluster runs every task again. */
async function runRound(round: Round, targets: Targets): Promise<{ records: FaultRecord[]; converged: boolean }> {
  await sleep(round.gapSec * 1000);
  targets.logger.info({ round: round.round, faults: round.faults.map(describeFault) }, 'nemesis: round starts');
  const done = await Promise.all(round.faults.map(async (fault) => ({ fault, ...(await inject(fault, targets)) })));
  const healedAt = Math.max(...done.map((d) => d.healedAtMs));
  let converged = true;
  try {
    await waitRunning(targets.cluster, targets.workers, convergeBoundMs, () => {
      const crash = targets.cluster.unexpectedExits()[0];
      if (crash !== undefined) throw new Error(`${crash.name} exited by itself (code ${crash.code}, signal ${crash.signal}); see its log`);
    });
  } catch (err) {
    converged = false;
    targets.logger.error({ round: round.round, err: (err as Error).message, view: await targets.cluster.view() }, `nemesis: the cluster did not converge within ${convergeBoundMs} ms`);
  }
  const convergedMs = Date.now() - healedAt;
  targets.logger.info({ round: round.round, convergedMs }, 'nemesis: round converged');
  return { records: done.map((d) => ({ round: round.round, fault: d.fault, injectedAtMs: d.injectedAtMs, healedAtMs: d.healedAtMs, convergedMs })), converged };
}

/** Carries out one fault until it is healed; returns when it began and when it was healed. */
async function inject(fault: Fault, t: Targets): Promise<{ injectedAtMs: number; healedAtMs: number }> {
  const injectedAtMs = Date.now();
  const healed = (): { injectedAtMs: number; healedAtMs: number } => ({ injectedAtMs, healedAtMs: Date.now() });
  switch (fault.kind) {
    case 'kill-worker':
      await killAndRestart(t, fault.worker);
      return healed();
    case 'kill-coordinator':
      await t.cluster.kill('coordinator', 'SIGKILL');
      t.cluster.restart('coordinator');
      return healed();
    case 'pause-worker':
      t.cluster.signal(fault.worker, 'SIGSTOP');
      await sleep(fault.holdMs);
      t.cluster.signal(fault.worker, 'SIGCONT');
      return healed();
    case 'pause-during-failover':
      t.cluster.signal(fault.worker, 'SIGSTOP');
      await sleep(t.heartbeatTimeoutMs + 300); // its tasks move to the others
      await t.cluster.kill('coordinator', 'SIGKILL');
      t.cluster.restart('coordinator');
      await sleep(Math.max(0, fault.holdMs - t.heartbeatTimeoutMs - 300));
      t.cluster.signal(fault.worker, 'SIGCONT');
      return healed();
    case 'partition-coordinator':
    case 'partition-kafka': {
      const proxy = (fault.kind === 'partition-kafka' ? t.kafkaProxies : t.coordinatorProxies).get(fault.worker) as TcpProxy;
      proxy.blackhole();
      await sleep(fault.holdMs);
      proxy.heal();
      return healed();
    }
    case 'kill-broker': {
      const pid = kafkaPid(t.kafkaConfig);
      if (pid === undefined) throw new Error('nemesis: the run\'s Kafka broker is not running');
      process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
      await sleep(fault.holdMs);
      await startKafka(t.kafkaConfig, t.logger, { proxiedListeners: t.listeners });
      return healed();
    }
    case 'store-full':
    case 'store-readonly': {
      const volume = t.volume as StoreVolume;
      if (fault.kind === 'store-full') volume.fill();
      else await volume.readOnly();
      await sleep(fault.holdMs);
      if (fault.kind === 'store-full') volume.unfill();
      else await volume.writable();
      return healed();
    }
    case 'corrupt-snapshot':
    case 'corrupt-base':
      return { injectedAtMs, healedAtMs: await corruptNewestSnapshot(t, fault.task, fault.kind === 'corrupt-base' ? 'base' : 'newest') };
    case 'clock-jump':
      writeFileSync(t.clockFile(fault.worker), `${fault.offsetSec > 0 ? '+' : ''}${fault.offsetSec}\n`);
      await sleep(fault.holdMs);
      writeFileSync(t.clockFile(fault.worker), '+0\n');
      return healed();
  }
}

async function killAndRestart(t: Targets, worker: string): Promise<void> {
  await t.cluster.kill(worker, 'SIGKILL');
  await waitRunning(t.cluster, t.workers - 1, convergeBoundMs).catch(() => undefined);
  t.cluster.restart(worker);
}

/**
 * Waits for the next checkpoint to complete and its outputs to go out, flips a byte in the
 * middle of its snapshot of `task` (its newest file, or the base of its chain, which the
 * retained checkpoints before it may share), and SIGKILLs the task's owner, so the task is
 * restored by another worker and meets the damage. Returns when the owner was restarted.
 */
async function corruptNewestSnapshot(t: Targets, task: number, link: 'newest' | 'base'): Promise<number> {
  const [before] = await t.store.completed();
  const deadline = Date.now() + 30_000;
  let latest = before;
  while (latest === before && Date.now() < deadline) {
    await sleep(50);
    [latest] = await t.store.completed();
  }
  if (latest === undefined || latest === before) throw new Error('nemesis: no checkpoint completed within 30 s, cannot corrupt one');
  await sleep(300);
  const entry = (await t.store.readManifest(latest)).tasks.find((e) => e.task === task);
  if (entry === undefined) throw new Error(`nemesis: checkpoint ${latest} has no snapshot of task ${task}`);
  const path = t.store.resolve(link === 'newest' ? entry.snapshot : chainOf(entry, latest)[0]!.ref);
  const bytes = readFileSync(path);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
  writeFileSync(path, bytes);
  t.logger.info({ checkpoint: latest, task, path, owner: entry.owner }, `nemesis: corrupted a snapshot's ${link === 'newest' ? 'newest file' : 'base'} after its ack; killing its owner`);
  await killAndRestart(t, entry.owner);
  return Date.now();
}

/** Counts each problem against every fault kind active when its record was produced. */
function attribute(
  problems: ReturnType<typeof findEosProblems>,
  records: readonly FaultRecord[],
  seqSentAt: readonly number[],
): { byKind: Partial<Record<FaultKind, KindVerdict>>; unattributed: NemesisResult['unattributed'] } {
  const byKind: Partial<Record<FaultKind, KindVerdict>> = {};
  for (const r of records) {
    const v = (byKind[r.fault.kind] ??= { faults: 0, lost: 0, duplicated: 0, wrongCounts: 0, convergedMsP50: 0, convergedMsMax: 0 });
    v.faults += 1;
  }
  for (const kind of Object.keys(byKind) as FaultKind[]) {
    const times = records.filter((r) => r.fault.kind === kind).map((r) => r.convergedMs);
    Object.assign(byKind[kind] as KindVerdict, { convergedMsP50: median(times), convergedMsMax: Math.max(...times) });
  }
  const unattributed = { lost: 0, duplicated: 0, wrongCounts: 0 };
  for (const field of ['lost', 'duplicated', 'wrongCounts'] as const) {
    for (const { seq } of problems[field]) {
      const at = seqSentAt[seq] ?? 0;
      const active = new Set(records.filter((r) => at >= r.injectedAtMs - 10_000 && at <= r.healedAtMs + r.convergedMs).map((r) => r.fault.kind));
      if (active.size === 0) unattributed[field] += 1;
      for (const kind of active) (byKind[kind] as KindVerdict)[field] += 1;
    }
  }
  return { byKind, unattributed };
}

function diagnose(problems: ReturnType<typeof findEosProblems>): NonNullable<NemesisResult['diagnostics']> {
  const count = (items: readonly unknown[], key: (item: never) => string): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const item of items) counts[key(item as never)] = (counts[key(item as never)] ?? 0) + 1;
    return counts;
  };
  return {
    duplicatedByPartition: count(problems.duplicated, (d: { partition?: number }) => String(d.partition)),
    lostByKey: count(problems.lost, (l: { key: string }) => l.key),
    samples: [...problems.duplicated.slice(0, 5), ...problems.lost.slice(0, 5), ...problems.wrongCounts.slice(0, 5)],
  };
}

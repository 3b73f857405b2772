/**
 * A worker process's data plane and its answers to the coordinator: Assign starts a
 * TaskRunner, Revoke stops one, and each task's commands run one after another so a revoke
 * never overtakes the assign it answers. Records flow Kafka -> KafkaSource -> TaskRunner ->
 * actor thread -> sinks; nothing here waits on the coordinator.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import { ensureError } from '../common/errors.ts';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import type { CoordinatorMessage__Output } from '../proto/control.ts';
import { checkpointStoreFor, type CheckpointStore } from '../state/checkpoint-store.ts';
import type { ObjectStoreOptions } from '../state/s3-store-files.ts';
import type { CheckpointReport } from './checkpoint-report.ts';
import type { CompactionPolicy } from './thread-protocol.ts';
import { ActorThreads } from './actor-threads.ts';
import { WorkerControlClient } from './control-client.ts';
import type { TlsFiles } from '../common/cluster-tls.ts';
import type { HttpTokens } from '../common/http-auth.ts';
import { histogramSnapshot, startWorkerHttp, type TaskSummary } from './http-server.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import { sourceTopics, waitForJobTopics } from '../job/topics.ts';
import { KafkaSinks } from './kafka-sinks.ts';
import { TaskSinks } from './task-sinks.ts';
import { KafkaSource } from './kafka-source.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { TaskRunner, type TaskLimits } from './task-runner.ts';
import { TaskTransactions } from './task-transactions.ts';
import { IngestService } from './ingest/ingest-service.ts';
import { PublishLane } from './publish-lane.ts';
import type { EddyConfig } from '../common/config.ts';

export interface WorkerOptions {
  id: string;
  /** Distinguishes this process from an earlier one with the same id (its private Kafka group). */
  instance: string;
  job: JobDefinition;
  /** How actor threads find the job: a built-in name or a module path. */
  jobRef: string;
  brokers: string[];
  /** host:port of the coordinator's control endpoint. */
  coordinator: string;
  /** Where this process keeps task LevelDBs: `<dataDir>/<id>-<instance>/task-<n>` (removed on stop). */
  dataDir: string;
  /** The checkpoint store's directory (shared by every process of the job), or with `objectStore` this process's cache of it. */
  checkpointDir: string;
  /** The checkpoint store in an S3-compatible object store. */
  objectStore?: ObjectStoreOptions | undefined;
  threads: number;
  http: { host: string; port: number; tokens?: HttpTokens | undefined };
  /** Mutual TLS to the coordinator: the cluster's CA and this worker's certificate (its id as common name). */
  controlTls?: TlsFiles | undefined;
  natsUrl: string;
  ingest: EddyConfig['ingest'];
  limits: TaskLimits;
  /** When a task writes a new snapshot base in the background (default: worker/runtime/snapshot-jobs.ts). */
  compaction?: CompactionPolicy;
  fetchMaxWaitMs: number;
  fetchMinBytes: number;
  logger: Logger;
  /** Called when the coordinator refuses this worker for good. */
  onFatal(reason: string): void;
}

export class Worker {
  private readonly runners = new Map<number, TaskRunner>();
  /** Consumer lag per task and topic, as of each partition's latest fetched batch (for the dashboard). */
  private readonly lags = new Map<number, Map<string, number>>();
  private readonly assignedIn = new Map<number, number>();
  private readonly chains = new Map<number, Promise<void>>();
  /** Set when stop() began: no task starts after that. */
  private stopping = false;
  private lastGeneration = 0;
  private lastCheckpoint = 0;
  private readonly metrics: WorkerMetrics;
  private readonly store: CheckpointStore;
  private readonly dataDir: string;
  private readonly kafka: Kafka;
  private readonly admin: Admin;
  private readonly publishLane = new PublishLane();
  private readonly sinks: KafkaSinks;
  private readonly source: KafkaSource;
  private readonly threads: ActorThreads;
  private control: WorkerControlClient | undefined;
  private http: FastifyInstance | undefined;
  private ingest: IngestService | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.metrics = createWorkerMetrics(options.id);
    this.store = checkpointStoreFor(options.checkpointDir, options.job.name, options.objectStore === undefined ? undefined : { options: options.objectStore, process: options.id });
    this.dataDir = join(options.dataDir, `${options.id}-${options.instance}`);
    this.kafka = createKafka(options.brokers, `eddy-${options.job.name}-${options.id}`, options.logger);
    this.admin = this.kafka.admin();
    this.sinks = new KafkaSinks(this.kafka, options.job, options.natsUrl, options.logger);
    this.threads = new ActorThreads(options.threads, { jobRef: options.jobRef });
    this.source = new KafkaSource({
      kafka: this.kafka,
      admin: this.admin,
      groupId: `eddy.${options.job.name}.${options.id}.${options.instance}`,
      topics: sourceTopics(options.job),
      maxWaitTimeMs: options.fetchMaxWaitMs,
      minBytes: options.fetchMinBytes,
      onRecords: (task, records) => this.runners.get(task)?.enqueue(records),
      onLag: (task, topic, lag) => {
        this.metrics.setConsumerLag(task, topic, lag);
        const lags = this.lags.get(task) ?? new Map<string, number>();
        this.lags.set(task, lags.set(topic, lag));
      },
      logger: options.logger,
    });
  }

  /** Starts the data plane and joins the cluster; returns the HTTP endpoint. */
  async start(): Promise<string> {
    await this.admin.connect();
    // Launched with the coordinator, a worker can be here before the job's topics are.
    await waitForJobTopics(this.admin, this.options.job, this.options.logger);
    const ingest = await IngestService.start({
      node: `${this.options.id}-${this.options.instance}`,
      job: this.options.job.name,
      topics: new Set(sourceTopics(this.options.job)),
      brokers: this.options.brokers,
      admin: this.admin,
      natsUrl: this.options.natsUrl,
      limits: this.options.ingest,
      logger: this.options.logger,
      observe: (wait, status, events, seconds) => {
        this.metrics.ingestRequests.inc({ wait, code: String(status) });
        this.metrics.ingestEvents.inc({ wait }, events);
        this.metrics.ingestRequestSeconds.observe({ wait }, seconds);
      },
      acksReceived: (count) => this.metrics.ingestAcks.inc(count),
    });
    this.ingest = ingest;
    const { app, endpoint } = await startWorkerHttp({
      ...this.options.http,
      bodyLimitBytes: this.options.ingest.bodyLimitBytes,
      registry: this.metrics.registry,
      tasks: () => this.summaries(),
      stats: async () => ({ tasks: this.summaries(), recordLatency: await histogramSnapshot(this.metrics.recordLatencySeconds) }),
      ready: () => this.control?.leaseValid === true,
      register: (server) => ingest.register(server),
    });
    this.http = app;
    await this.sinks.start();
    await this.source.start();
    this.control = new WorkerControlClient({
      address: this.options.coordinator,
      tls: this.options.controlTls,
      hello: () => ({
        workerId: this.options.id, endpoint, capacity: 0, pid: process.pid, job: this.options.job.name,
        claims: [...this.runners.values()].filter((r) => r.state === 'running' && !r.relinquished).map((r) => ({ task: r.task, acked: r.ackedCheckpoints() })),
        lastGeneration: this.lastGeneration,
        lastCheckpoint: this.lastCheckpoint,
      }),
      heartbeat: () => ({
        generation: this.lastGeneration,
        taskStats: [...this.runners.values()].map((r) => ({ task: r.task, recordsIn: r.stats.recordsIn, recordsOut: r.stats.recordsOut, queueDepth: r.queueDepth, actorsActive: r.stats.actorsActive })),
      }),
      onMessage: (message) => this.receive(message),
      onRejected: (reason) => this.options.onFatal(`coordinator refused this worker: ${reason}`),
      onLeaseExpired: (silentMs) => this.leaseExpired(silentMs),
      logger: this.options.logger,
    });
    this.control.start();
    return endpoint;
  }

  /**
   * Leaves the cluster and stops every task cleanly (flushing its state). An assignment that
   * arrived before the session closed but had not run yet starts nothing, and one still restoring
   * is revoked where it stands (as a Revoke during a restore is), instead of being finished to
   * running first: the coordinator sees this worker leave and assigns the task elsewhere.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.control?.close();
    for (const runner of this.runners.values()) if (runner.state === 'restoring') runner.stop().catch(() => undefined); // stopTask below awaits it and reports
    const tasks = new Set([...this.runners.keys(), ...this.chains.keys()]);
    await Promise.all([...tasks].map((task) => this.serially(task, () => this.stopTask(task))));
    await this.source.stop();
    await this.sinks.stop();
    await this.admin.disconnect();
    await this.threads.close();
    await this.http?.close();
    await this.ingest?.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private receive(message: CoordinatorMessage__Output): void {
    if (message.triggerCheckpoint) return this.trigger(message.triggerCheckpoint.checkpointId, message.triggerCheckpoint.tasks);
    if (message.checkpointCommitted) return this.committed(message.checkpointCommitted.checkpointId);
    const command = message.assign ?? message.revoke;
    if (command === undefined || command === null) return;
    if (command.generation < this.lastGeneration) {
      this.options.logger.warn({ body: message.body, generation: command.generation, current: this.lastGeneration }, 'ignoring a stale command');
      return;
    }
    this.lastGeneration = command.generation;
    const { task, generation } = command;
    const restoreFrom = message.assign?.restoreFrom ?? 0;
    const adopt = message.assign?.adopt ?? false;
    if (message.assign) void this.serially(task, () => this.assign(task, generation, restoreFrom, adopt));
    else void this.serially(task, () => this.revoke(task, generation));
  }

  /**
   * Out of contact with the coordinator for longer than the lease: somebody else may be given
   * these tasks any moment, so they stop now, dropping what they did since their last
   * checkpoint and committing nothing, until the coordinator assigns them again.
   */
  private leaseExpired(silentMs: number): void {
    const tasks = [...this.runners.keys()];
    this.options.logger.warn({ silentMs: Math.round(silentMs), tasks }, 'no word from the coordinator within the lease: stopping every task until it assigns them again');
    for (const runner of this.runners.values()) runner.relinquish(); // at once: the next Hello must not claim them
    for (const task of tasks) void this.serially(task, () => this.stopTask(task));
  }

  private trigger(checkpointId: number, tasks: number[]): void {
    this.lastCheckpoint = Math.max(this.lastCheckpoint, checkpointId);
    for (const task of tasks) {
      const runner = this.runners.get(task);
      if (runner?.barrier(checkpointId) !== true) {
        this.report({ kind: 'declined', task, generation: runner?.generation ?? this.assignedIn.get(task) ?? 0, checkpointId, reason: 'TASK_NOT_RUNNING', detail: runner?.replaying === true ? 'task is replaying input it published before' : `task is ${runner?.state ?? 'not on this worker'}` });
      }
    }
  }

  private committed(checkpointId: number): void {
    this.lastCheckpoint = Math.max(this.lastCheckpoint, checkpointId);
    for (const runner of this.runners.values()) runner.commit(checkpointId);
  }

  private report(report: CheckpointReport): void {
    // Without a lease the coordinator may have given the task to another worker already.
    if (this.control?.leaseValid !== true) return;
    if (report.kind === 'ack') {
      const { task, generation, checkpointId, offsets, snapshotRef, bytes, records, snapshotMs, chain } = report;
      const links = chain.map(({ ref, checkpointId: id, kind, bytes: linkBytes, records: linkRecords }) => ({ ref, checkpointId: id, delta: kind === 'delta', bytes: linkBytes, records: linkRecords }));
      this.control?.send({ checkpointAck: { task, generation, checkpointId, offsets, snapshotRef, bytes, records, snapshotMs, chain: links } });
    } else {
      const { task, generation, checkpointId, reason, detail } = report;
      this.control?.send({ checkpointDeclined: { task, generation, checkpointId, reason, detail } });
    }
  }

  /**
   * Starts the task from checkpoint `restoreFrom`, or, when the coordinator confirms a proven
   * claim (`adopt`), keeps the instance already running. An instance this worker still runs
   * without a confirmation is stopped first: its state is not proven to be the newest.
   */
  private async assign(task: number, generation: number, restoreFrom: number, adopt: boolean): Promise<void> {
    if (this.stopping) return;
    this.assignedIn.set(task, generation);
    const existing = this.runners.get(task);
    if (existing?.state === 'running' && !existing.relinquished && adopt) {
      existing.adopt(generation);
      this.control?.send({ taskReady: { task, generation } });
      return;
    }
    if (existing !== undefined) {
      this.options.logger.info({ task, state: existing.state, adopt }, 'restarting a task this worker still ran, from the latest checkpoint');
      await this.stopTask(task);
    }
    let transactions: TaskSinks;
    try {
      const storeId = () => this.storeId();
      transactions = new TaskSinks(new TaskTransactions(this.kafka, this.admin, this.options.job, task, storeId), TaskSinks.databasesOf(this.options.job, task, storeId, this.options.logger));
    } catch (err) {
      this.taskFailed(task, `could not start: ${ensureError(err).message}`);
      return;
    }
    const runner = new TaskRunner(task, generation, {
      owner: `${this.options.id}-${this.options.instance}`,
      threads: this.threads, source: this.source, sinks: this.sinks, transactions,
      checkpoints: this.store, dataDir: this.dataDir, limits: this.options.limits, metrics: this.metrics, clock: Date.now, logger: this.options.logger,
      ...(this.options.compaction === undefined ? {} : { compaction: this.options.compaction }),
      onFailed: (failed, reason) => void this.serially(failed, () => Promise.resolve(this.taskFailed(failed, reason))),
      onCheckpoint: (report) => this.report(report),
      acks: this.ingest?.acks,
      publishLane: this.publishLane,
    });
    this.runners.set(task, runner);
    try {
      await runner.start(restoreFrom);
      this.control?.send({ taskReady: { task, generation } });
    } catch (err) {
      this.runners.delete(task);
      this.lags.delete(task);
      this.source.close(task);
      await this.threads.run(task, { type: 'close', task }).catch(() => undefined);
      await transactions.close().catch(() => undefined);
      this.taskFailed(task, `could not start: ${ensureError(err).message}`);
    }
  }

  private async revoke(task: number, generation: number): Promise<void> {
    await this.stopTask(task);
    this.control?.send({ revoked: { task, generation } });
  }

  private async stopTask(task: number): Promise<void> {
    const runner = this.runners.get(task);
    if (runner === undefined) return;
    try {
      await runner.stop();
    } finally {
      this.runners.delete(task);
      this.lags.delete(task);
    }
  }

  private taskFailed(task: number, reason: string): void {
    if (this.runners.get(task)?.state === 'failed') {
      this.runners.delete(task);
      this.lags.delete(task);
    }
    this.options.logger.error({ task, reason }, 'task failed; telling the coordinator');
    this.control?.send({ taskFailed: { task, generation: this.assignedIn.get(task) ?? this.lastGeneration, reason } });
  }

  /** The checkpoint store's id, which the coordinator wrote before assigning any task. */
  private async storeId(): Promise<string> {
    const identity = await this.store.existingIdentity();
    if (identity === undefined) throw new Error(`the checkpoint store ${this.store.location} has no store.json: is this worker using the coordinator's checkpoint store?`);
    return identity.storeId;
  }

  /** Runs `step` after every earlier step of the same task. */
  private serially(task: number, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(task) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.options.logger.error({ task, err: ensureError(err).message }, 'task command failed');
    });
    this.chains.set(task, next);
    return next;
  }

  private summaries(): TaskSummary[] {
    return [...this.runners.values()].map((r) => ({
      task: r.task, state: r.state, queueDepth: r.queueDepth, recordsIn: r.stats.recordsIn, recordsOut: r.stats.recordsOut,
      lag: [...(this.lags.get(r.task)?.values() ?? [])].reduce((sum, lag) => sum + lag, 0),
      deadLetters: r.stats.deadLetters,
    }));
  }
}

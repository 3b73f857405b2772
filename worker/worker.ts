/**
 * A worker process's data plane and its answers to the coordinator: Assign starts a
 * TaskRunner, Revoke stops one, and each task's commands run one after another so a revoke
 * never overtakes the assign it answers. Records flow Kafka -> KafkaSource -> TaskRunner ->
 * actor thread -> sinks; nothing here waits on the coordinator.
 */
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import { ensureError } from '../common/errors.ts';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import type { CoordinatorMessage__Output } from '../proto/control.ts';
import { ActorThreads } from './actor-threads.ts';
import { WorkerControlClient } from './control-client.ts';
import { startWorkerHttp } from './http-server.ts';
import type { JobDefinition } from './job/api.ts';
import { sourceTopics } from './job/topics.ts';
import { KafkaSinks } from './kafka-sinks.ts';
import { KafkaSource } from './kafka-source.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { TaskRunner, type TaskLimits } from './task-runner.ts';

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
  /** Where task LevelDBs live: `<dataDir>/task-<n>`. */
  dataDir: string;
  threads: number;
  http: { host: string; port: number };
  limits: TaskLimits;
  fetchMaxWaitMs: number;
  logger: Logger;
  /** Called when the coordinator refuses this worker for good. */
  onFatal(reason: string): void;
}

export class Worker {
  private readonly runners = new Map<number, TaskRunner>();
  private readonly assignedIn = new Map<number, number>();
  private readonly chains = new Map<number, Promise<void>>();
  private lastGeneration = 0;
  private readonly metrics: WorkerMetrics;
  private readonly kafka: Kafka;
  private readonly sinks: KafkaSinks;
  private readonly source: KafkaSource;
  private readonly threads: ActorThreads;
  private control: WorkerControlClient | undefined;
  private http: FastifyInstance | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.metrics = createWorkerMetrics(options.id);
    this.kafka = createKafka(options.brokers, `eddy-${options.job.name}-${options.id}`, options.logger);
    this.sinks = new KafkaSinks(this.kafka, options.job);
    this.threads = new ActorThreads(options.threads, { jobRef: options.jobRef });
    this.source = new KafkaSource({
      kafka: this.kafka,
      groupId: `eddy.${options.job.name}.${options.id}.${options.instance}`,
      topics: sourceTopics(options.job),
      maxWaitTimeMs: options.fetchMaxWaitMs,
      onRecords: (task, records) => this.runners.get(task)?.enqueue(records),
      logger: options.logger,
    });
  }

  /** Starts the data plane and joins the cluster; returns the HTTP endpoint. */
  async start(): Promise<string> {
    const { app, endpoint } = await startWorkerHttp({ ...this.options.http, registry: this.metrics.registry, tasks: () => this.summaries() });
    this.http = app;
    await this.sinks.start();
    await this.source.start();
    this.control = new WorkerControlClient({
      address: this.options.coordinator,
      hello: () => ({
        workerId: this.options.id, endpoint, capacity: 0, pid: process.pid, job: this.options.job.name,
        ownedTasks: this.summaries().filter((t) => t.state === 'running').map((t) => t.task),
        lastGeneration: this.lastGeneration,
      }),
      heartbeat: () => ({
        generation: this.lastGeneration,
        taskStats: [...this.runners.values()].map((r) => ({ task: r.task, recordsIn: r.stats.recordsIn, recordsOut: r.stats.recordsOut, queueDepth: r.queueDepth, actorsActive: r.stats.actorsActive })),
      }),
      onMessage: (message) => this.receive(message),
      onRejected: (reason) => this.options.onFatal(`coordinator refused this worker: ${reason}`),
      logger: this.options.logger,
    });
    this.control.start();
    return endpoint;
  }

  /** Leaves the cluster and stops every task cleanly (flushing its state). */
  async stop(): Promise<void> {
    this.control?.close();
    await Promise.all([...this.runners.keys()].map((task) => this.serially(task, () => this.stopTask(task))));
    await this.source.stop();
    await this.sinks.stop();
    await this.threads.close();
    await this.http?.close();
  }

  private receive(message: CoordinatorMessage__Output): void {
    const command = message.assign ?? message.revoke;
    if (command === undefined || command === null) return;
    if (command.generation < this.lastGeneration) {
      this.options.logger.warn({ body: message.body, generation: command.generation, current: this.lastGeneration }, 'ignoring a stale command');
      return;
    }
    this.lastGeneration = command.generation;
    const { task, generation } = command;
    if (message.assign) void this.serially(task, () => this.assign(task, generation));
    else void this.serially(task, () => this.revoke(task, generation));
  }

  private async assign(task: number, generation: number): Promise<void> {
    this.assignedIn.set(task, generation);
    if (this.runners.get(task)?.state === 'running') {
      this.control?.send({ taskReady: { task, generation } });
      return;
    }
    const runner = new TaskRunner(task, {
      threads: this.threads, source: this.source, sinks: this.sinks, dataDir: this.options.dataDir,
      limits: this.options.limits, metrics: this.metrics, clock: Date.now, logger: this.options.logger,
      onFailed: (failed, reason) => void this.serially(failed, () => Promise.resolve(this.taskFailed(failed, reason))),
    });
    this.runners.set(task, runner);
    try {
      await runner.start();
      this.control?.send({ taskReady: { task, generation } });
    } catch (err) {
      this.runners.delete(task);
      this.source.close(task);
      await this.threads.run(task, { type: 'close', task }).catch(() => undefined);
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
    }
  }

  private taskFailed(task: number, reason: string): void {
    if (this.runners.get(task)?.state === 'failed') this.runners.delete(task);
    this.options.logger.error({ task, reason }, 'task failed; telling the coordinator');
    this.control?.send({ taskFailed: { task, generation: this.assignedIn.get(task) ?? this.lastGeneration, reason } });
  }

  /** Runs `step` after every earlier step of the same task. */
  private serially(task: number, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(task) ?? Promise.resolve()).then(step).catch((err: unknown) => {
      this.options.logger.error({ task, err: ensureError(err).message }, 'task command failed');
    });
    this.chains.set(task, next);
    return next;
  }

  private summaries() {
    return [...this.runners.values()].map((r) => ({ task: r.task, state: r.state, queueDepth: r.queueDepth, recordsIn: r.stats.recordsIn, recordsOut: r.stats.recordsOut }));
  }
}

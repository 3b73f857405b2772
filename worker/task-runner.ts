/**
 * One task on this worker, from Assign to Revoke: restores the task on its actor thread, opens
 * its partitions at the stored offsets, and feeds its records to the thread in offset order,
 * one request at a time, publishing each batch's outputs before the next. Every
 * `flushIntervalMs` the thread writes state and offsets in one LevelDB batch; since outputs are
 * published before the flush that covers them, a crash can repeat outputs but never lose them.
 * The queue is bounded: above `queueRecordsMax` the task's partitions are paused, never dropped.
 */
import { IllegalStateError, ensureError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { ActorThreads } from './actor-threads.ts';
import type { KafkaSinks } from './kafka-sinks.ts';
import type { KafkaSource } from './kafka-source.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { SourceRecord, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

export type TaskRunnerState = 'starting' | 'restoring' | 'running' | 'revoking' | 'stopped' | 'failed';

const transitions: Record<TaskRunnerState, TaskRunnerState[]> = {
  starting: ['restoring', 'failed'],
  restoring: ['running', 'failed', 'revoking'],
  running: ['revoking', 'failed'],
  revoking: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export interface TaskLimits {
  queueRecordsMax: number;
  batchRecordsMax: number;
  flushIntervalMs: number;
  tickIntervalMs: number;
}

export interface TaskRunnerDeps {
  threads: ActorThreads;
  source: KafkaSource;
  sinks: KafkaSinks;
  dataDir: string;
  limits: TaskLimits;
  metrics: WorkerMetrics;
  clock: () => number;
  logger: Logger;
  /** The task stopped by itself (thread died, sink failed); the worker tells the coordinator. */
  onFailed(task: number, reason: string): void;
}

export class TaskRunner {
  private stateValue: TaskRunnerState = 'starting';
  private queue: SourceRecord[] = [];
  /** Next offset expected per topic; records below it are repeats of a fetch before a seek. */
  private readonly expected = new Map<string, bigint>();
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFlushMs = 0;
  private lastTickMs = 0;
  private readonly label: { task: string };
  readonly stats = { recordsIn: 0, recordsOut: 0, actorsActive: 0 };

  constructor(readonly task: number, private readonly deps: TaskRunnerDeps) {
    this.label = { task: String(task) };
  }

  get state(): TaskRunnerState {
    return this.stateValue;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {
    this.transition('restoring');
    const opened = await this.call({ type: 'open', task: this.task, dataDir: this.deps.dataDir }, 'opened');
    for (const [topic, offset] of Object.entries(opened.offsets)) this.expected.set(topic, BigInt(offset));
    await this.deps.source.open(this.task, opened.offsets);
    if (this.stateValue !== 'restoring') {
      this.deps.source.close(this.task); // revoked while restoring
      return;
    }
    this.lastFlushMs = this.lastTickMs = this.deps.clock();
    this.transition('running');
    this.timer = setInterval(() => this.kick(), this.deps.limits.tickIntervalMs);
    this.deps.logger.info({ task: this.task, offsets: opened.offsets }, 'task running');
  }

  /** Records fetched for this task, in offset order per topic. */
  enqueue(records: readonly SourceRecord[]): void {
    if (this.stateValue !== 'running') return;
    for (const r of records) {
      const offset = BigInt(r.offset);
      if (offset < (this.expected.get(r.topic) ?? -1n)) continue;
      this.expected.set(r.topic, offset + 1n);
      this.queue.push(r);
    }
    this.deps.metrics.queueRecords.set(this.label, this.queue.length);
    if (this.queue.length >= this.deps.limits.queueRecordsMax) this.deps.source.throttle(this.task);
    this.kick();
  }

  /** Revoke: stop reading, finish the batch in flight, drop the rest (re-read by the next owner), flush, close. */
  async stop(): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'failed') return;
    this.transition('revoking');
    this.halt();
    await this.loop;
    await this.call({ type: 'close', task: this.task }, 'closed');
    this.transition('stopped');
  }

  private kick(): void {
    if (this.loop !== undefined || this.stateValue !== 'running') return;
    this.loop = this.drain().finally(() => {
      this.loop = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.stateValue === 'running') {
        const now = this.deps.clock();
        if (now - this.lastFlushMs >= this.deps.limits.flushIntervalMs) {
          this.lastFlushMs = now;
          await this.call({ type: 'flush', task: this.task }, 'flushed');
        } else if (now - this.lastTickMs >= this.deps.limits.tickIntervalMs) {
          this.lastTickMs = now;
          await this.handle(await this.call({ type: 'tick', task: this.task, nowMs: now }, 'processed'));
        } else if (this.queue.length > 0) {
          await this.processBatch(this.queue.splice(0, this.deps.limits.batchRecordsMax), now);
        } else {
          return;
        }
      }
    } catch (err) {
      this.fail(ensureError(err));
    }
  }

  private async processBatch(records: SourceRecord[], nowMs: number): Promise<void> {
    const end = this.deps.metrics.batchSeconds.startTimer(this.label);
    const response = await this.call({ type: 'records', task: this.task, records, nowMs }, 'processed');
    await this.handle(response);
    end();
    this.stats.recordsIn += records.length;
    this.deps.metrics.recordsIn.inc(this.label, records.length);
    this.deps.metrics.queueRecords.set(this.label, this.queue.length);
    if (this.queue.length <= this.deps.limits.queueRecordsMax / 2) this.deps.source.unthrottle(this.task);
  }

  private async handle(response: Extract<ThreadResponse, { type: 'processed' }>): Promise<void> {
    await this.deps.sinks.publish(response.outputs, response.deadLetters);
    this.stats.recordsOut += response.outputs.length;
    this.stats.actorsActive = response.stats.actorsActive;
    this.deps.metrics.recordsOut.inc(this.label, response.outputs.length);
    this.deps.metrics.actorsActive.set(this.label, response.stats.actorsActive);
    for (const f of response.timerFailures ?? []) {
      this.deps.logger.error({ task: this.task, actor: f.actor, key: f.key, timer: f.timer, reason: f.reason }, 'timer handler failed; timer dropped, state rolled back');
    }
    if (response.deadLetters.length > 0) {
      this.deps.metrics.deadLetters.inc(this.label, response.deadLetters.length);
      for (const d of response.deadLetters) {
        this.deps.logger.warn({ task: this.task, record: `${d.source.topic}[${d.source.partition}]@${d.source.offset}`, field: d.field, reason: d.reason, actor: d.actor }, 'record sent to the dead-letter topic');
      }
    }
  }

  private fail(err: Error): void {
    if (this.stateValue === 'failed' || this.stateValue === 'stopped') return;
    this.deps.logger.error({ task: this.task, err: err.message }, 'task failed');
    this.transition('failed');
    this.halt();
    // Best effort: release the task's LevelDB if the thread still holds it.
    this.deps.threads.run(this.task, { type: 'close', task: this.task }).catch(() => undefined);
    this.deps.onFailed(this.task, err.message);
  }

  private halt(): void {
    clearInterval(this.timer);
    this.deps.source.close(this.task);
    this.queue = [];
    this.deps.metrics.queueRecords.set(this.label, 0);
  }

  private async call<T extends ThreadResponse['type']>(request: ThreadRequest, expect: T): Promise<Extract<ThreadResponse, { type: T }>> {
    const response = await this.deps.threads.run(this.task, request);
    if (response.type !== expect || response.task !== this.task) {
      throw new IllegalStateError(`task ${this.task}: '${request.type}' answered with '${response.type}' for task ${response.task}`);
    }
    return response as Extract<ThreadResponse, { type: T }>;
  }

  private transition(to: TaskRunnerState): void {
    if (!transitions[this.stateValue].includes(to)) {
      throw new IllegalStateError(`task ${this.task}: ${this.stateValue} -> ${to} is not a valid transition`);
    }
    this.stateValue = to;
  }
}

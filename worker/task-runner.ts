/**
 * One task on this worker, from Assign to Revoke. Start: fence earlier owners (the task's
 * transactional id), restore the task's state from the checkpoint the coordinator named
 * (falling back to older complete ones if a snapshot is corrupt), publish what that checkpoint
 * holds beyond the last published marker, then read its partitions from the checkpoint's
 * offsets. Running: records and barriers go to the actor thread through one FIFO queue, one
 * request at a time, so barriers are aligned with records; at-least-once outputs are published
 * after each batch; exactly-once outputs wait in the thread's buffer until their checkpoint
 * commits. The queue is bounded: above `queueRecordsMax` the task's partitions pause.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { IllegalStateError, ensureError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { CheckpointStore } from '../state/checkpoint-store.ts';
import type { ActorThreads } from './actor-threads.ts';
import type { CheckpointReport } from './checkpoint-report.ts';
import type { AckChannel } from './ingest/ack-channel.ts';
import { ingestRefOf, type IngestRef } from './ingest/ingest-ref.ts';
import type { KafkaSource } from './kafka-source.ts';
import type { PublishLane } from './publish-lane.ts';
import type { WorkerMetrics } from './metrics.ts';
import { restoreTask } from './task-restore.ts';
import type { AtLeastOnceSink, ExactlyOnceSink } from '../job/contract/sink.ts';
import type { CompactionPolicy, SnapshotResult, SourceRecord, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

export type TaskRunnerState = 'starting' | 'restoring' | 'running' | 'revoking' | 'stopped' | 'failed';

const transitions: Record<TaskRunnerState, TaskRunnerState[]> = {
  starting: ['restoring', 'failed', 'revoking'],
  restoring: ['running', 'failed', 'revoking'],
  running: ['revoking', 'failed'],
  revoking: ['stopped', 'failed'],
  stopped: [],
  failed: [],
};

export interface TaskLimits {
  queueRecordsMax: number;
  batchRecordsMax: number;
  tickIntervalMs: number;
  pendingOutputsMax: number;
}

export interface TaskRunnerDeps {
  /** This worker process (`<id>-<instance>`): snapshot names carry it. */
  owner: string;
  threads: ActorThreads;
  source: KafkaSource;
  sinks: AtLeastOnceSink;
  transactions: ExactlyOnceSink & { taskCount(): Promise<number> };
  checkpoints: CheckpointStore;
  /** When the task writes a new snapshot base in the background (default: worker/runtime/snapshot-jobs.ts). */
  compaction?: CompactionPolicy;
  dataDir: string;
  limits: TaskLimits;
  metrics: WorkerMetrics;
  clock: () => number;
  logger: Logger;
  /** The task stopped by itself (thread died, sink failed, fenced); the worker tells the coordinator. */
  onFailed(task: number, reason: string): void;
  /** A barrier's snapshot finished (or failed); the worker acks or declines. */
  onCheckpoint(report: CheckpointReport): void;
  /** Where acks of ingested events go (absent: nobody waits). */
  acks?: AckChannel;
  /** Shared by the worker's tasks: one publishes its checkpoint outputs at a time. */
  publishLane: PublishLane;
}

type QueueItem = { kind: 'records'; records: SourceRecord[] } | { kind: 'barrier'; checkpointId: number };

/** How many recent barrier ids a task remembers (commits refer to recent checkpoints). */
const barriersRemembered = 64;
/** Acked checkpoints a claim lists (the latest complete one is among the last few). */
const ackedRemembered = 8;

export class TaskRunner {
  private stateValue: TaskRunnerState = 'starting';
  private queue: QueueItem[] = [];
  private queuedRecords = 0;
  /** Next offset expected per topic; records below it are repeats of a fetch before a seek. */
  private readonly expected = new Map<string, bigint>();
  private loop: Promise<void> | undefined;
  private commits: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastTickMs = 0;
  private readonly label: { task: string };
  /** Checkpoints whose barrier this incarnation took, plus the one it was restored from. */
  private readonly barriers: number[] = [];
  private publishedThrough = 0;
  /** The newest checkpoints this incarnation acked, with their generations: its claim on the task. */
  private readonly acked: { checkpointId: number; generation: number }[] = [];
  private stopping: Promise<void> | undefined;
  private relinquishedValue = false;
  /**
   * While set, the task replays input whose outputs an earlier owner published (its checkpoint
   * was older than its marker): per topic, the offset where the replay ends. Its outputs are
   * discarded and it takes no barrier until then.
   */
  private replay: Map<string, bigint> | undefined;
  /** Next offset handled per topic (the replay's progress). */
  private readonly handledNext = new Map<string, bigint>();
  private pendingOutputs = 0;
  /** Ingested events waiting for `committed`: those of the current epoch, and per barrier taken. */
  private epochAcks: IngestRef[] = [];
  private readonly commitAcks: { checkpointId: number; refs: IngestRef[] }[] = [];
  readonly stats = { recordsIn: 0, recordsOut: 0, actorsActive: 0, deadLetters: 0 };

  constructor(readonly task: number, private generationValue: number, private readonly deps: TaskRunnerDeps) {
    this.label = { task: String(task) };
  }

  get state(): TaskRunnerState {
    return this.stateValue;
  }

  /** Generation of the Assign the task runs under; acks carry it. */
  get generation(): number {
    return this.generationValue;
  }

  /** A new coordinator confirmed this worker keeps the task, under a new generation. */
  adopt(generation: number): void {
    this.generationValue = generation;
  }

  /**
   * The worker's lease ran out: stop reading at once and never claim the task again; the
   * worker stops it properly in its turn ({@link stop}).
   */
  relinquish(): void {
    this.relinquishedValue = true;
    if (this.stateValue === 'running') this.halt();
  }

  get relinquished(): boolean {
    return this.relinquishedValue;
  }

  /** True while the task replays already-published input (see {@link restoreTask}). */
  get replaying(): boolean {
    return this.replay !== undefined;
  }

  /** What the next Hello claims: the checkpoints this instance acked, newest last. */
  ackedCheckpoints(): { checkpointId: number; generation: number }[] {
    return [...this.acked];
  }

  get queueDepth(): number {
    return this.queuedRecords;
  }

  /** Restores from `restoreFrom` (0 = fresh state) and starts reading. */
  async start(restoreFrom: number): Promise<void> {
    const metrics = this.deps.metrics;
    const end = metrics.restoreSeconds.startTimer();
    try {
      await this.restoreAndOpen(restoreFrom);
    } catch (err) {
      metrics.restores.inc({ ...this.label, result: 'failed' });
      throw err;
    }
    if (this.stateValue === 'running') end();
    metrics.restores.inc({ ...this.label, result: this.stateValue === 'running' ? 'ok' : 'revoked' });
  }

  private async restoreAndOpen(restoreFrom: number): Promise<void> {
    this.transition('restoring');
    const restored = await restoreTask({
      ...this.deps,
      task: this.task,
      restoreFrom,
      input: async () => ({ start: await this.deps.source.earliestOffsets(this.task), compacted: await this.deps.source.compactedTopics() }),
      call: (request, expect) => this.call(request, expect),
    });
    this.publishedThrough = restored.publishedThrough;
    if (restored.restoredFrom > 0) this.barriers.push(restored.restoredFrom);
    const replay = new Map(
      Object.entries(restored.replayUntil ?? {})
        .map(([topic, until]) => [topic, BigInt(until)] as const)
        .filter(([topic, until]) => until > BigInt(restored.offsets[topic] ?? '0')),
    );
    if (replay.size > 0) this.replay = replay;
    for (const [topic, offset] of Object.entries(restored.offsets)) this.expected.set(topic, BigInt(offset));
    await this.deps.source.open(this.task, restored.offsets);
    if (this.stateValue !== 'restoring') {
      this.deps.source.close(this.task); // revoked while restoring
      return;
    }
    this.lastTickMs = this.deps.clock();
    this.transition('running');
    this.timer = setInterval(() => this.kick(), this.deps.limits.tickIntervalMs);
    this.deps.logger.info({ task: this.task, restoredFrom: restored.restoredFrom, offsets: restored.offsets }, 'task running');
  }

  /** Records fetched for this task, in offset order per topic. */
  enqueue(records: readonly SourceRecord[]): void {
    if (this.stateValue !== 'running') return;
    const fresh = records.filter((r) => {
      const offset = BigInt(r.offset);
      if (offset < (this.expected.get(r.topic) ?? -1n)) return false;
      this.expected.set(r.topic, offset + 1n);
      return true;
    });
    if (fresh.length === 0) return;
    this.queue.push({ kind: 'records', records: fresh });
    this.queuedRecords += fresh.length;
    this.deps.metrics.queueRecords.set(this.label, this.queuedRecords);
    this.throttleIfNeeded();
    this.kick();
  }

  /** Barrier of checkpoint `checkpointId`, after every record already queued. False if not running (or replaying). */
  barrier(checkpointId: number): boolean {
    if (this.stateValue !== 'running' || this.replay !== undefined) return false;
    this.queue.push({ kind: 'barrier', checkpointId });
    this.kick();
    return true;
  }

  /** Checkpoint `checkpointId` is complete: publish this task's exactly-once outputs up to it. */
  commit(checkpointId: number): void {
    if (this.stateValue !== 'running' || checkpointId <= this.publishedThrough || !this.barriers.includes(checkpointId)) return;
    this.commits = this.commits
      .then(() => this.deps.publishLane.run(() => this.publish(checkpointId)))
      .catch((err: unknown) => this.fail(ensureError(err)));
  }

  /**
   * Revoke: stop reading, finish the request in flight, drop everything since the last barrier.
   * Leaves `running` before it returns the promise; a second call shares the first one's.
   */
  stop(): Promise<void> {
    if (this.stateValue === 'stopped' || this.stateValue === 'failed') return Promise.resolve();
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.transition('revoking');
    this.halt();
    await this.loop;
    await this.commits;
    try {
      await this.call({ type: 'close', task: this.task }, 'closed');
      await this.deps.transactions.close();
    } finally {
      // Stopped either way: a close that failed left nothing this instance may still use.
      if (this.stateValue === 'revoking') this.transition('stopped');
      this.deps.metrics.forgetTask(this.task);
    }
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
        const next = this.queue[0];
        if (now - this.lastTickMs >= this.deps.limits.tickIntervalMs && this.replay === undefined) {
          this.lastTickMs = now;
          await this.handle(await this.call({ type: 'tick', task: this.task, nowMs: now }, 'processed'));
        } else if (next?.kind === 'barrier') {
          this.queue.shift();
          await this.takeBarrier(next.checkpointId);
        } else if (next?.kind === 'records' && this.replay !== undefined && !this.replays(next.records[0])) {
          await this.endReplay();
        } else if (next?.kind === 'records') {
          await this.processBatch(this.takeRecords(), now);
          if (this.replay !== undefined && [...this.replay].every(([topic, until]) => (this.handledNext.get(topic) ?? 0n) >= until)) await this.endReplay();
        } else {
          return;
        }
      }
    } catch (err) {
      this.fail(ensureError(err));
    }
  }

  /** True if `record` is part of the replay: below its topic's replay end. */
  private replays(record: SourceRecord | undefined): boolean {
    const until = record === undefined ? undefined : this.replay?.get(record.topic);
    return until !== undefined && BigInt((record as SourceRecord).offset) < until;
  }

  /** The replay reached checkpoint `publishedThrough`'s offsets: what it emitted was published before. */
  private async endReplay(): Promise<void> {
    const { discarded } = await this.call({ type: 'discard-replayed', task: this.task, publishedThrough: this.publishedThrough }, 'replayed-discarded');
    this.deps.logger.info({ task: this.task, publishedThrough: this.publishedThrough, discarded }, 'replay done: its outputs were published by an earlier owner and are discarded');
    this.replay = undefined;
  }

  /** Up to `batchRecordsMax` queued records, stopping at a barrier (and, while replaying, at the replay's end). */
  private takeRecords(): SourceRecord[] {
    const batch: SourceRecord[] = [];
    while (batch.length < this.deps.limits.batchRecordsMax) {
      const head = this.queue[0];
      if (head?.kind !== 'records') break;
      const room = this.deps.limits.batchRecordsMax - batch.length;
      if (this.replay !== undefined) {
        let take = 0;
        while (take < head.records.length && take < room && this.replays(head.records[take])) take += 1;
        batch.push(...head.records.splice(0, take));
        if (head.records.length === 0) this.queue.shift();
        if (take === 0 || head.records.length > 0) break;
      } else if (head.records.length <= room) {
        batch.push(...head.records);
        this.queue.shift();
      } else {
        batch.push(...head.records.splice(0, room));
      }
    }
    this.queuedRecords -= batch.length;
    return batch;
  }

  private async processBatch(records: SourceRecord[], nowMs: number): Promise<void> {
    const endHandler = this.deps.metrics.handlerSeconds.startTimer(this.label);
    const processed = await this.call({ type: 'records', task: this.task, records, nowMs }, 'processed');
    endHandler();
    for (const r of records) this.handledNext.set(r.topic, BigInt(r.offset) + 1n);
    await this.handle(processed);
    this.deps.metrics.observeRecordLatency(records, this.deps.clock());
    this.ackHandled(records);
    this.stats.recordsIn += records.length;
    this.deps.metrics.recordsIn.inc(this.label, records.length);
    if (this.stateValue === 'running') this.deps.metrics.queueRecords.set(this.label, this.queuedRecords);
  }

  private async takeBarrier(checkpointId: number): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const generation = this.generation;
    const snapshotRef = this.deps.checkpoints.snapshotRef(checkpointId, this.task, this.deps.owner, generation);
    const startedMs = this.deps.clock();
    try {
      const target = { root: this.deps.checkpoints.root, ref: snapshotRef };
      const taken = await this.call({ type: 'barrier', task: this.task, checkpointId, target, done: port2 }, 'barrier-taken', [port2]);
      this.barriers.push(checkpointId);
      this.barriers.splice(0, Math.max(0, this.barriers.length - barriersRemembered));
      this.deps.metrics.barriers.inc(this.label);
      if (this.epochAcks.length > 0) this.commitAcks.push({ checkpointId, refs: this.epochAcks });
      this.epochAcks = [];
      this.awaitSnapshot(port1, async (result) => {
        if (result.type === 'snapshot-written') {
          // In an object store, the files are uploaded before the ack: a manifest names only stored files.
          const uploadFailure = await this.deps.checkpoints.publish(result.chain.map((link) => link.ref)).then(() => undefined, (err: unknown) => ensureError(err).message);
          if (uploadFailure !== undefined) {
            this.deps.onCheckpoint({ kind: 'declined', task: this.task, generation, checkpointId, reason: 'SNAPSHOT_FAILED', detail: uploadFailure });
            return;
          }
          const snapshotMs = this.deps.clock() - startedMs;
          this.deps.metrics.snapshotSeconds.observe(snapshotMs / 1000);
          if (this.stateValue === 'running') this.deps.metrics.snapshotBytes.set(this.label, result.bytes);
          this.acked.push({ checkpointId, generation });
          this.acked.splice(0, Math.max(0, this.acked.length - ackedRemembered));
          const { bytes, records, chain } = result;
          this.deps.onCheckpoint({ kind: 'ack', task: this.task, generation, checkpointId, offsets: taken.offsets, snapshotRef: chain.at(-1)?.ref ?? snapshotRef, bytes, records, snapshotMs, chain });
        } else {
          this.deps.onCheckpoint({ kind: 'declined', task: this.task, generation: this.generation, checkpointId, reason: 'SNAPSHOT_FAILED', detail: result.reason });
        }
      });
    } catch (err) {
      port1.close();
      this.deps.onCheckpoint({ kind: 'declined', task: this.task, generation: this.generation, checkpointId, reason: 'BARRIER_FAILED', detail: ensureError(err).message });
      throw err;
    }
  }

  private awaitSnapshot(port: MessagePort, done: (result: SnapshotResult) => Promise<void>): void {
    port.once('message', (result: SnapshotResult) => {
      port.close();
      done(result).catch((err: unknown) => this.deps.logger.error({ task: this.task, checkpoint: result.checkpointId, err: ensureError(err).message }, 'snapshot result not handled'));
    });
  }

  private async publish(checkpointId: number): Promise<void> {
    const end = this.deps.metrics.commitSeconds.startTimer();
    const committed = await this.call({ type: 'committed-outputs', task: this.task, checkpointId }, 'committed-outputs');
    // Nothing to publish, no watermark to announce: no transaction. The commit marker stays at the
    // last checkpoint that published something, and a restore from a later checkpoint publishes
    // its buffer's epochs above that marker, of which these had none (see task-restore.ts).
    if (committed.outputs.length > 0 || Object.keys(committed.progress ?? {}).length > 0) {
      await this.deps.transactions.publish(checkpointId, committed.outputs, committed.progress);
    }
    await this.call({ type: 'outputs-published', task: this.task, checkpointId }, 'outputs-published');
    this.publishedThrough = checkpointId;
    end();
    this.deps.metrics.commits.inc(this.label);
    while (this.commitAcks[0] !== undefined && this.commitAcks[0].checkpointId <= checkpointId) {
      this.deps.acks?.send(this.commitAcks.shift()?.refs ?? []);
    }
    this.stats.recordsOut += committed.outputs.length;
    this.deps.metrics.recordsOut.inc(this.label, committed.outputs.length);
  }

  /** `processed` acks go out now; `committed` ones wait for the checkpoint that covers them. */
  private ackHandled(records: readonly SourceRecord[]): void {
    if (this.deps.acks === undefined) return;
    const processed: IngestRef[] = [];
    for (const record of records) {
      const ref = ingestRefOf(record);
      if (ref?.wait === 'processed') processed.push(ref);
      else if (ref?.wait === 'committed') this.epochAcks.push(ref);
    }
    this.deps.acks.send(processed);
  }

  private async handle(response: Extract<ThreadResponse, { type: 'processed' }>): Promise<void> {
    // A replay's at-least-once outputs were published by the earlier owner too.
    if (this.replay === undefined) await this.deps.sinks.publish(response.outputs);
    this.stats.recordsOut += response.outputs.length;
    this.stats.actorsActive = response.stats.actorsActive;
    this.pendingOutputs = response.stats.pendingOutputs;
    this.deps.metrics.recordsOut.inc(this.label, response.outputs.length);
    if (this.stateValue === 'running') {
      this.deps.metrics.actorsActive.set(this.label, response.stats.actorsActive);
      this.deps.metrics.pendingOutputs.set(this.label, response.stats.pendingOutputs);
      // After a batch and after a tick alike: a tick is what sees the outputs of a published
      // checkpoint gone when fetching is paused and no batch comes.
      this.throttleIfNeeded();
    }
    for (const [counter, by] of Object.entries(response.counts ?? {})) this.deps.metrics.jobEvents.inc({ ...this.label, counter }, by);
    for (const f of response.timerFailures ?? []) {
      this.deps.logger.error({ task: this.task, actor: f.actor, key: f.key, timer: f.timer, reason: f.reason }, 'timer handler failed; timer dropped, state rolled back');
    }
    if (response.deadLetters.length > 0) {
      this.deps.metrics.deadLetters.inc(this.label, response.deadLetters.length);
      this.stats.deadLetters += response.deadLetters.length;
      for (const d of response.deadLetters) {
        this.deps.logger.warn({ task: this.task, record: `${d.source.topic}[${d.source.partition}]@${d.source.offset}`, field: d.field, reason: d.reason, actor: d.actor }, 'record goes to the dead-letter topic');
      }
    }
  }

  private throttleIfNeeded(): void {
    const full = this.queuedRecords >= this.deps.limits.queueRecordsMax || this.pendingOutputs >= this.deps.limits.pendingOutputsMax;
    const drained = this.queuedRecords <= this.deps.limits.queueRecordsMax / 2 && this.pendingOutputs < this.deps.limits.pendingOutputsMax;
    if (full) this.deps.source.throttle(this.task);
    else if (drained) this.deps.source.unthrottle(this.task);
  }

  private fail(err: Error): void {
    if (this.stateValue === 'failed' || this.stateValue === 'stopped') return;
    this.deps.logger.error({ task: this.task, err: err.message }, 'task failed');
    this.transition('failed');
    this.halt();
    this.deps.metrics.forgetTask(this.task);
    // Best effort: release the task's LevelDB and producer.
    this.deps.threads.run(this.task, { type: 'close', task: this.task }).catch(() => undefined);
    this.deps.transactions.close().catch(() => undefined);
    this.deps.onFailed(this.task, err.message);
  }

  private halt(): void {
    clearInterval(this.timer);
    this.deps.source.close(this.task);
    this.queue = [];
    this.queuedRecords = 0;
    this.deps.metrics.queueRecords.set(this.label, 0);
  }

  private async call<T extends ThreadResponse['type']>(request: ThreadRequest, expect: T, transferList?: MessagePort[]): Promise<Extract<ThreadResponse, { type: T }>> {
    const response = await this.deps.threads.run(this.task, request, transferList);
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

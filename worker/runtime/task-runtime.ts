/**
 * One task on its actor thread: routes the task's records, in order, to the actors that read
 * their source; fires timers; tracks the watermark and the next offset of each source; keeps
 * exactly-once outputs and dead letters in a buffer under the current epoch; and at each
 * barrier (task-checkpoints.ts) writes all of it to the task's store in one batch, then
 * snapshots the store in the background while later requests go on. Bad input (a record its format cannot decode, job code
 * that throws) is dead-lettered and the task goes on; Eddy's own failures (store I/O, a record
 * for another task, a request out of order) reject the request, and the task is restored.
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { TaskStore } from '../../state/task-store.ts';
import type { StoredTimer } from '../../state/store-keys.ts';
import type { JobDefinition } from '../../job/contract/job.ts';
import type { BufferedOutput, DeadLetter, OutputRecord, SourceRecord, TaskOffsets, TaskRuntimeStats, TimerFailure } from '../thread-protocol.ts';
import { ActorCache } from './actor-cache.ts';
import { ActorInvoker } from './actor-invoker.ts';
import { Emission, exactlyOnceSinks } from './emission.ts';
import { OutputBuffer } from './output-buffer.ts';
import { RecordRouter, recordMeta } from './record-router.ts';
import { SourceOffsets } from './source-offsets.ts';
import type { SnapshotLink } from '../../state/snapshot-chain.ts';
import type { CompactionPolicy, SnapshotTarget } from './snapshot-jobs.ts';
import { TaskCheckpoints, type BarrierTaken, type TaskParts } from './task-checkpoints.ts';
import { TimerQueue } from './timer-queue.ts';
import { UserCodeError } from './user-code-error.ts';
import { ORIGIN_HEADER, WATERMARK_HEADER } from './call-context.ts';
import { ActorWatermarks } from './watermark-tracker.ts';

export type { BarrierTaken } from './task-checkpoints.ts';

/** The job's repartition sources that carry data (and so watermark lanes); broadcast topics carry control records. */
function repartitionSources(job: JobDefinition): ReadonlySet<string> {
  return new Set(Object.entries(job.sources).flatMap(([name, source]) => (source.internal === true && source.broadcast !== true ? [name] : [])));
}

function broadcastSources(job: JobDefinition): ReadonlySet<string> {
  return new Set(Object.entries(job.sources).flatMap(([name, source]) => (source.broadcast === true ? [name] : [])));
}

function upsertSinks(job: JobDefinition): ReadonlySet<string> {
  return new Set(Object.entries(job.sinks).flatMap(([name, sink]) => ('upsert' in sink && sink.upsert === true ? [name] : [])));
}

/** Options of {@link TaskRuntime.open}. */
export type TaskRuntimeOptions = {
  /** Actors kept in memory per task; the least recently used beyond it are evicted. Default 10,000. */
  actorCacheMax?: number;
  /** The checkpoint the store was restored from; 0 (the default) for a fresh task. */
  restoredFrom?: number;
  /** The snapshot chain the store was rebuilt from: the next barrier writes a delta on it. Default none (the next barrier writes a base). */
  restoredChain?: readonly SnapshotLink[];
  /** When a new base is written in the background. */
  compaction?: CompactionPolicy;
  /** A monotonic clock in ms, for snapshot durations. Default `performance.now`. */
  clockMs?: () => number;
  /**
   * The job's task count: an actor reading a repartition topic waits for a watermark from each
   * of that many upstream tasks (or for it to go idle). Default 0: no lanes expected up front.
   */
  taskCount?: number;
};

/** What a `records` or `tick` request produced. */
export type ProcessResult = {
  /** Outputs of at-least-once sinks, to publish at once. */
  outputs: OutputRecord[];
  /** Dead letters, for logs and metrics (they are in `buffered` too). */
  deadLetters: DeadLetter[];
  /** What this request added to the buffer (exactly-once outputs and dead letters), in order. */
  buffered: BufferedOutput[];
  timerFailures: TimerFailure[];
  /** Job counter increments of the request, by counter name. */
  counts: Record<string, number>;
  stats: TaskRuntimeStats;
};

export class TaskRuntime {
  private closed = false;
  private readonly router: RecordRouter;
  private readonly invoker: ActorInvoker;
  private readonly exactlyOnce: ReadonlySet<string>;
  private readonly checkpoints: TaskCheckpoints;
  /** Names of the job's repartition sources: only their records carry lanes and markers. */
  private readonly repartitions: ReadonlySet<string>;
  /** Names of the job's broadcast sources: no watermark lane. */
  private readonly broadcasts: ReadonlySet<string>;
  /** Per barrier taken and not yet published: the progress to announce on each repartition. */
  private readonly progressAt = new Map<number, Record<string, number>>();
  /** The progress announced last, per repartition. */
  private announced: Record<string, number> = {};

  private constructor(
    readonly task: number,
    private readonly store: TaskStore,
    private readonly parts: TaskParts,
    job: JobDefinition,
    options: TaskRuntimeOptions,
  ) {
    this.router = new RecordRouter(job, task);
    this.invoker = new ActorInvoker({ job, task, taskCount: options.taskCount ?? 0, cache: parts.cache, timers: parts.timers, watermark: parts.watermark });
    this.exactlyOnce = exactlyOnceSinks(job);
    // The restored buffer, sealed already: the first delta writes how it changed since.
    const restored = { checkpointId: options.restoredFrom ?? 0, chain: options.restoredChain ?? [], sealed: parts.buffer.seal() };
    this.checkpoints = new TaskCheckpoints(task, store, parts, restored, options.compaction, options.clockMs);
    this.repartitions = repartitionSources(job);
    this.broadcasts = broadcastSources(job);
  }

  /** Restores the task from its store (actors are read lazily, on first use). */
  static async open(job: JobDefinition, task: number, store: TaskStore, options: TaskRuntimeOptions = {}): Promise<TaskRuntime> {
    const [offsets, storedTimers, storedWatermark, storedBuffer] = await Promise.all([store.readOffsets(), store.readTimers(), store.readWatermark(), store.takeBuffer()]);
    const timers = new TimerQueue();
    timers.load(storedTimers);
    const ttls = new Map(Object.entries(job.actors).flatMap(([name, actor]) => (actor.stateTtlMs === undefined ? [] : [[name, actor.stateTtlMs] as const])));
    const cache = new ActorCache(store, options.actorCacheMax ?? 10_000, ttls);
    const watermark = new ActorWatermarks(job.actors, job.watermark, storedWatermark, repartitionSources(job), options.taskCount ?? 0);
    return new TaskRuntime(task, store, { cache, timers, watermark, offsets: new SourceOffsets(task, offsets), buffer: new OutputBuffer(storedBuffer, upsertSinks(job)) }, job, options);
  }

  /** The epoch of what the task emits now: the last checkpoint taken (or restored) + 1. */
  get epoch(): number {
    return this.checkpoints.epoch;
  }

  /** Next offset to read per source topic, as of the last record handled. */
  offsets(): TaskOffsets {
    return this.parts.offsets.snapshot();
  }

  /** Handles records in order, then fires the timers that became due (event time, then processing time). */
  async process(records: readonly SourceRecord[], nowMs: number): Promise<ProcessResult> {
    this.assertOpen('records');
    const emission = this.emission();
    const failures: TimerFailure[] = [];
    for (const record of records) {
      this.parts.offsets.check(record);
      await this.handle(record, nowMs, emission);
      this.parts.offsets.advance(record);
    }
    await this.fireDueTimers(nowMs, emission, failures);
    return this.finish(emission, failures);
  }

  /**
   * Fires the timers due at processing time `nowMs` (and event-time ones, if idle sources let the
   * watermark move), and sweeps a bounded part of the store for states past their TTL.
   */
  async tick(nowMs: number): Promise<ProcessResult> {
    this.assertOpen('tick');
    await this.parts.cache.expire(nowMs);
    const emission = this.emission();
    const failures: TimerFailure[] = [];
    await this.fireDueTimers(nowMs, emission, failures);
    return this.finish(emission, failures);
  }

  /**
   * Barrier `checkpointId`: writes changed actors, timers, the watermark and the offsets in one
   * batch, seals the output buffer, and starts writing the snapshot (a delta of that batch and
   * the buffer, or a base) to `target`. Later outputs belong to epoch `checkpointId + 1`.
   */
  barrier(checkpointId: number, target: SnapshotTarget): Promise<BarrierTaken> {
    this.assertOpen('barrier');
    this.progressAt.set(checkpointId, this.progressSinceLast());
    return this.checkpoints.barrier(checkpointId, target);
  }

  /**
   * What checkpoint `checkpointId` announces on each repartition topic, with its outputs: the
   * lowest watermark of the actors that emit into it, as of that barrier, where it moved since
   * the previous barrier. Published after the checkpoint's records, as a marker on every
   * partition, it lets readers whose partitions got none of this task's records move their
   * watermark on (Flink broadcasts watermarks to every channel for the same reason).
   */
  progress(checkpointId: number): Record<string, number> {
    for (const id of this.progressAt.keys()) if (id < checkpointId) this.progressAt.delete(id);
    return this.progressAt.get(checkpointId) ?? {};
  }

  /** The buffered outputs (dead letters included) of epochs ≤ `checkpointId`, in emission order. */
  committedOutputs(checkpointId: number): BufferedOutput[] {
    this.assertOpen('committed-outputs');
    return this.checkpoints.committedOutputs(checkpointId);
  }

  /** The outputs of epochs ≤ `checkpointId` are published: drops them from the buffer. */
  outputsPublished(checkpointId: number): void {
    this.assertOpen('outputs-published');
    this.checkpoints.outputsPublished(checkpointId);
  }

  /**
   * Ends a replay up to checkpoint `publishedThrough`'s offsets: drops the outputs added since
   * the restore (published before) and returns how many. Later outputs belong to the epoch after
   * `publishedThrough`, not after the older checkpoint restored: they are not published yet, and a
   * sink that filters by epoch against its mark (a restore after a crash) must see them as newer.
   */
  discardUnsealed(publishedThrough: number): number {
    this.assertOpen('discard-replayed');
    const discarded = this.parts.buffer.discardFresh();
    this.checkpoints.skipTo(publishedThrough);
    return discarded;
  }

  /** Closes the store without writing anything; snapshots in flight end as failed. Later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.checkpoints.abortSnapshots();
    await this.store.close();
  }

  private progressSinceLast(): Record<string, number> {
    const progress: Record<string, number> = {};
    for (const [sink, actors] of this.invoker.emitters) {
      if (this.broadcasts.has(sink)) continue; // control records: no watermark to announce
      const lowest = Math.min(...[...actors].map((actor) => this.parts.watermark.of(actor)));
      if (Number.isFinite(lowest) && lowest > (this.announced[sink] ?? -Infinity)) progress[sink] = lowest;
    }
    this.announced = { ...this.announced, ...progress };
    return progress;
  }

  private async handle(record: SourceRecord, nowMs: number, emission: Emission): Promise<void> {
    const route = this.router.route(record);
    // Lanes and markers exist on Eddy's own repartition topics only; other topics' headers are data.
    const internal = this.repartitions.has(route.source);
    const origin = internal ? record.headers?.[ORIGIN_HEADER] : undefined;
    const lane = origin === undefined ? route.source : `${route.source}#${origin}`;
    if (!this.broadcasts.has(route.source)) this.parts.watermark.touch(route.source, lane, nowMs);
    const marker = internal ? record.headers?.[WATERMARK_HEADER] : undefined;
    if (marker !== undefined) {
      this.parts.watermark.observeMarker(route.source, lane, Number(marker));
      return; // progress only: no actor sees it
    }
    const decoded = this.router.decode(route, record);
    if (!decoded.ok) {
      emission.deadLetter({ source: record, field: decoded.field, reason: decoded.reason }, `invalid.${route.source}`);
      return;
    }
    if (decoded.value === null) return;
    const meta = recordMeta(record);
    for (const actor of route.actors) {
      try {
        await this.invoker.deliver(actor, route.source, lane, decoded.value, meta, nowMs, emission);
      } catch (thrown) {
        if (!(thrown instanceof UserCodeError)) throw thrown;
        emission.deadLetter({ source: record, field: '', reason: thrown.message, actor }, `failed.${actor}`);
      }
    }
  }

  private async fireDueTimers(nowMs: number, emission: Emission, failures: TimerFailure[]): Promise<void> {
    const { timers, watermark } = this.parts;
    watermark.advance(nowMs);
    for (const [kind, limitMs] of [['event-time', watermark.highestMs], ['processing-time', nowMs]] as const) {
      const notYet: StoredTimer[] = [];
      for (const timer of timers.takeDue(kind, limitMs)) {
        if (!timers.isPending(timer)) continue; // cancelled by a timer fired before it
        if (kind === 'event-time' && timer.timestampMs > watermark.of(timer.actor)) {
          notYet.push(timer); // due by another actor's watermark, not by its own
          continue;
        }
        timers.remove(timer);
        await this.fire(timer, nowMs, emission, failures);
      }
      for (const timer of notYet) timers.putBack(timer);
    }
  }

  private async fire(timer: StoredTimer, nowMs: number, emission: Emission, failures: TimerFailure[]): Promise<void> {
    try {
      await this.invoker.fire(timer, nowMs, emission);
    } catch (thrown) {
      if (!(thrown instanceof UserCodeError)) throw thrown;
      const { actor, key, kind, timestampMs, tag } = timer;
      failures.push({ actor, key, timer: { kind, timestampMs, tag }, reason: thrown.message });
    }
  }

  private emission(): Emission {
    return new Emission(this.exactlyOnce, this.parts.buffer, this.epoch);
  }

  private finish({ outputs, deadLetters, buffered, counts }: Emission, timerFailures: TimerFailure[]): ProcessResult {
    const { cache, timers, watermark, buffer } = this.parts;
    const watermarkMs = Number.isFinite(watermark.lowestMs) ? watermark.lowestMs : null;
    const stats = { actorsActive: cache.size, pendingOutputs: buffer.size, timersPending: timers.size, watermarkMs };
    return { outputs, deadLetters, buffered, timerFailures, counts, stats };
  }

  private assertOpen(request: string): void {
    if (this.closed) throw new IllegalStateError(`task ${this.task} is closed; got ${request}`);
  }
}

/**
 * One task on its actor thread: routes the task's records, in order, to the actors that read
 * their source; fires timers; tracks the watermark and the next offset of each source; and
 * flushes all of it to the task's store in one batch. Bad input (a record its format cannot
 * decode, job code that throws) is dead-lettered and the task goes on; Eddy's own failures
 * (store I/O, a record for another task) reject the request, and the task is restored.
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { TaskStore } from '../../state/task-store.ts';
import type { StoredTimer } from '../../state/store-keys.ts';
import type { JobDefinition } from '../job/api.ts';
import type { DeadLetter, OutputRecord, SourceRecord, TaskOffsets, TaskRuntimeStats, TimerFailure } from '../thread-protocol.ts';
import { ActorCache } from './actor-cache.ts';
import { ActorInvoker } from './actor-invoker.ts';
import { RecordRouter, recordMeta } from './record-router.ts';
import { SourceOffsets } from './source-offsets.ts';
import { TimerQueue } from './timer-queue.ts';
import { UserCodeError } from './user-code-error.ts';
import { WatermarkTracker } from './watermark-tracker.ts';

/** Options of {@link TaskRuntime.open}. */
export type TaskRuntimeOptions = {
  /** Actors kept in memory per task; the least recently used beyond it are evicted. Default 10,000. */
  actorCacheMax?: number;
};

/** What a `records` or `tick` request produced. */
export type ProcessResult = {
  outputs: OutputRecord[];
  deadLetters: DeadLetter[];
  timerFailures: TimerFailure[];
  stats: TaskRuntimeStats;
};

type Parts = { cache: ActorCache; timers: TimerQueue; watermark: WatermarkTracker; offsets: SourceOffsets };

export class TaskRuntime {
  private closed = false;
  private readonly router: RecordRouter;
  private readonly invoker: ActorInvoker;

  private constructor(
    readonly task: number,
    private readonly store: TaskStore,
    private readonly parts: Parts,
    job: JobDefinition,
  ) {
    this.router = new RecordRouter(job, task);
    this.invoker = new ActorInvoker({ job, task, cache: parts.cache, timers: parts.timers, watermark: parts.watermark });
  }

  /** Restores the task from its store (actors are read lazily, on first use). */
  static async open(job: JobDefinition, task: number, store: TaskStore, options: TaskRuntimeOptions = {}): Promise<TaskRuntime> {
    const [offsets, storedTimers, storedWatermark] = await Promise.all([store.readOffsets(), store.readTimers(), store.readWatermark()]);
    const timers = new TimerQueue();
    timers.load(storedTimers);
    const cache = new ActorCache(store, options.actorCacheMax ?? 10_000);
    return new TaskRuntime(task, store, { cache, timers, watermark: new WatermarkTracker(job.watermark, storedWatermark), offsets: new SourceOffsets(task, offsets) }, job);
  }

  /** Next offset to read per source topic, as of the last record handled. */
  offsets(): TaskOffsets {
    return this.parts.offsets.snapshot();
  }

  /** Handles records in order, then fires the timers that became due (event time, then processing time). */
  async process(records: readonly SourceRecord[], nowMs: number): Promise<ProcessResult> {
    this.assertOpen('records');
    const result = emptyResult();
    for (const record of records) {
      this.parts.offsets.check(record);
      await this.handle(record, nowMs, result);
      this.parts.offsets.advance(record);
    }
    await this.fireDueTimers(nowMs, result);
    return this.finish(result);
  }

  /** Fires the timers due at processing time `nowMs` (and event-time ones, if idle sources let the watermark move). */
  async tick(nowMs: number): Promise<ProcessResult> {
    this.assertOpen('tick');
    const result = emptyResult();
    await this.fireDueTimers(nowMs, result);
    return this.finish(result);
  }

  /** Writes changed actors, timers, the watermark and the offsets in one batch; returns the offsets. */
  async flush(): Promise<TaskOffsets> {
    this.assertOpen('flush');
    const { cache, timers, watermark, offsets } = this.parts;
    const timerChanges = timers.changesSinceFlush();
    await this.store.commit({ ...cache.flushParts(), timerPuts: timerChanges.puts, timerDels: timerChanges.dels, watermark: watermark.snapshot(), offsets: offsets.snapshot() });
    cache.markFlushed();
    timers.markFlushed();
    return this.offsets();
  }

  /** Flushes and closes the store. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.store.close();
  }

  private async handle(record: SourceRecord, nowMs: number, result: ProcessResult): Promise<void> {
    const route = this.router.route(record);
    this.parts.watermark.touch(route.source, nowMs);
    const decoded = this.router.decode(route, record);
    if (!decoded.ok) {
      result.deadLetters.push({ source: record, field: decoded.field, reason: decoded.reason });
      return;
    }
    if (decoded.value === null) return;
    const meta = recordMeta(record);
    for (const actor of route.actors) {
      try {
        await this.invoker.deliver(actor, route.source, decoded.value, meta, nowMs, result.outputs);
      } catch (thrown) {
        if (!(thrown instanceof UserCodeError)) throw thrown;
        result.deadLetters.push({ source: record, field: '', reason: thrown.message, actor });
      }
    }
  }

  private async fireDueTimers(nowMs: number, result: ProcessResult): Promise<void> {
    const { timers, watermark } = this.parts;
    watermark.advance(nowMs);
    for (const [kind, limitMs] of [['event-time', watermark.watermarkMs], ['processing-time', nowMs]] as const) {
      for (const timer of timers.takeDue(kind, limitMs)) {
        if (!timers.isPending(timer)) continue; // cancelled by a timer fired before it
        timers.remove(timer);
        await this.fire(timer, nowMs, result);
      }
    }
  }

  private async fire(timer: StoredTimer, nowMs: number, result: ProcessResult): Promise<void> {
    try {
      await this.invoker.fire(timer, nowMs, result.outputs);
    } catch (thrown) {
      if (!(thrown instanceof UserCodeError)) throw thrown;
      const { actor, key, kind, timestampMs, tag } = timer;
      result.timerFailures.push({ actor, key, timer: { kind, timestampMs, tag }, reason: thrown.message });
    }
  }

  private finish(result: ProcessResult): ProcessResult {
    const watermarkMs = this.parts.watermark.watermarkMs;
    result.stats = { actorsActive: this.parts.cache.size, timersPending: this.parts.timers.size, watermarkMs: Number.isFinite(watermarkMs) ? watermarkMs : null };
    return result;
  }

  private assertOpen(request: string): void {
    if (this.closed) throw new IllegalStateError(`task ${this.task} is closed; got ${request}`);
  }
}

function emptyResult(): ProcessResult {
  return { outputs: [], deadLetters: [], timerFailures: [], stats: { actorsActive: 0, timersPending: 0, watermarkMs: null } };
}

/**
 * The checkpoint side of one task: which epoch its outputs belong to, the barrier (one batch of
 * everything changed since the last one, then a background snapshot of what that batch changed,
 * with the output buffer as sealed at that moment: see snapshot-jobs.ts), and the buffer's
 * commit and publish steps. Kept apart from the record path in task-runtime.ts, which only appends to the
 * buffer under {@link TaskCheckpoints.epoch}.
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { RawEntry, StoreChange, TaskStore } from '../../state/task-store.ts';
import type { BufferedOutput, SnapshotResult, TaskOffsets } from '../thread-protocol.ts';
import type { ActorCache } from './actor-cache.ts';
import type { OutputBuffer } from './output-buffer.ts';
import type { SnapshotLink } from '../../state/snapshot-chain.ts';
import { SnapshotJobs, type CompactionPolicy, type SnapshotTarget } from './snapshot-jobs.ts';
import type { SourceOffsets } from './source-offsets.ts';
import type { TimerQueue } from './timer-queue.ts';
import type { ActorWatermarks } from './watermark-tracker.ts';

/** What a barrier answers at once, and its snapshot, which ends later. */
export type BarrierTaken = { offsets: TaskOffsets; snapshot: Promise<SnapshotResult> };

/** The task's state, owned by the TaskRuntime. */
export type TaskParts = { cache: ActorCache; timers: TimerQueue; watermark: ActorWatermarks; offsets: SourceOffsets; buffer: OutputBuffer };

export class TaskCheckpoints {
  /** The last checkpoint whose barrier this task took, or the one it was restored from. */
  private lastCheckpoint: number;
  private readonly snapshots: SnapshotJobs;

  constructor(
    private readonly task: number,
    private readonly store: TaskStore,
    private readonly parts: TaskParts,
    restored: { checkpointId: number; chain: readonly SnapshotLink[]; sealed: readonly RawEntry[] },
    compaction?: CompactionPolicy,
    clockMs?: () => number,
  ) {
    this.lastCheckpoint = restored.checkpointId;
    this.snapshots = new SnapshotJobs(task, restored, compaction, clockMs);
  }

  /** The epoch of what the task emits now: the last checkpoint taken (or restored) + 1. */
  get epoch(): number {
    return this.lastCheckpoint + 1;
  }

  /**
   * After a replay up to checkpoint `checkpointId`'s input (published by an earlier owner): what
   * the task emits from now on belongs to the epoch after it. Never goes back.
   */
  skipTo(checkpointId: number): void {
    this.lastCheckpoint = Math.max(this.lastCheckpoint, checkpointId);
  }

  /** Writes the batch and starts the snapshot (a view of the store, when it needs one, is opened right after the batch). */
  async barrier(checkpointId: number, target: SnapshotTarget): Promise<BarrierTaken> {
    if (!Number.isSafeInteger(checkpointId) || checkpointId <= this.lastCheckpoint) {
      throw new IllegalStateError(`task ${this.task}: barrier ${checkpointId} does not follow checkpoint ${this.lastCheckpoint}`);
    }
    const changes = await this.flush();
    const sealed = this.parts.buffer.seal();
    this.lastCheckpoint = checkpointId;
    // Nothing can write between the batch and a view opened here: the thread is ours until we return.
    const snapshot = this.snapshots.take({ checkpointId, target, changes, sealed, openView: () => this.store.openView() });
    return { offsets: this.parts.offsets.snapshot(), snapshot };
  }

  committedOutputs(checkpointId: number): BufferedOutput[] {
    this.assertTaken('committed-outputs', checkpointId);
    return this.parts.buffer.upTo(checkpointId);
  }

  outputsPublished(checkpointId: number): void {
    this.assertTaken('outputs-published', checkpointId);
    this.parts.buffer.dropUpTo(checkpointId);
  }

  /** Ends the snapshots in flight as failed, once they have let go of the store. */
  abortSnapshots(): Promise<void> {
    return this.snapshots.abortAll();
  }

  /** Changed actors, timers, the watermark and the offsets, in one batch; returns what it wrote. */
  private async flush(): Promise<StoreChange[]> {
    const { cache, timers, watermark, offsets } = this.parts;
    const timerChanges = timers.changesSinceFlush();
    const changes = await this.store.commit({
      ...cache.flushParts(),
      timerPuts: timerChanges.puts,
      timerDels: timerChanges.dels,
      watermark: watermark.snapshot(),
      offsets: offsets.snapshot(),
    });
    cache.markFlushed();
    timers.markFlushed();
    return changes;
  }

  private assertTaken(request: string, checkpointId: number): void {
    if (checkpointId > this.lastCheckpoint) throw new IllegalStateError(`task ${this.task}: ${request} ${checkpointId}, but its last checkpoint is ${this.lastCheckpoint}`);
  }
}

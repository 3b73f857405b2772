/**
 * Triggers checkpoint n every `intervalMs` once every task runs, collects one ack per task,
 * writes the manifest atomically and then tells every worker `CheckpointCommitted{n}`. One
 * checkpoint at a time; a timeout, a decline or a lost task abandons it and the next one
 * carries on. Ids only grow, across coordinator restarts too (taken from the store and from
 * the workers' Hello), so a late ack of an abandoned attempt can never count for a new one.
 */
import { ensureError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { CheckpointAck__Output, CheckpointDeclined__Output, CoordinatorMessage } from '../../proto/control.ts';
import { manifestFormat, type CheckpointStore, type TaskCheckpoint } from '../../state/checkpoint-store.ts';
import type { SnapshotLink } from '../../state/snapshot-chain.ts';
import { CheckpointHistory, type AbandonReason, type CheckpointRecord } from './checkpoint-history.ts';
import { PendingCheckpoint, type Participant } from './pending-checkpoint.ts';

export interface CheckpointHost {
  /** The running owner of every task, or undefined while any task is not running. */
  participants(): Map<number, Participant> | undefined;
  send(worker: string, message: CoordinatorMessage): void;
  broadcast(message: CoordinatorMessage): void;
  /** A manifest write finished (or failed): Assigns held back while it was in flight may go now. */
  settled(): void;
}

/** One checkpoint a worker says it acked for a task, under the generation of its Assign. */
export interface AckedCheckpoint {
  checkpointId: number;
  generation: number;
}

export interface CheckpointEvents {
  completed(record: CheckpointRecord, commitMs: number): void;
  abandoned(reason: AbandonReason): void;
}

export interface CheckpointOptions {
  job: string;
  intervalMs: number;
  timeoutMs: number;
  /** Complete checkpoints kept in the store. */
  retain: number;
  store: CheckpointStore;
  clock: () => number;
  logger: Logger;
  events?: CheckpointEvents;
}

function ownersOf(tasks: readonly TaskCheckpoint[]): Map<number, { owner: string; generation: number }> {
  return new Map(tasks.map((t) => [t.task, { owner: t.owner, generation: t.generation }]));
}

const declineReasons: Record<string, AbandonReason> = {
  TASK_NOT_RUNNING: 'task-not-running',
  SNAPSHOT_FAILED: 'snapshot-failed',
  BARRIER_FAILED: 'barrier-failed',
};

export class CheckpointCoordinator {
  private latest = 0;
  /** Who acked each task's snapshot in the latest complete checkpoint, as its manifest says. */
  private latestOwners = new Map<number, { owner: string; generation: number }>();
  private nextId = 1;
  private pending: PendingCheckpoint | undefined;
  private completing = false;
  private lastTriggerMs = Number.NEGATIVE_INFINITY;
  readonly history = new CheckpointHistory();

  constructor(private readonly options: CheckpointOptions, private readonly host: CheckpointHost) {}

  /** Continues from what the store holds: the latest complete checkpoint and the highest id used. */
  async recover(): Promise<void> {
    await this.options.store.identity(this.options.job);
    const [latest] = await this.options.store.completed();
    this.latest = latest ?? 0;
    if (this.latest > 0) this.latestOwners = ownersOf((await this.options.store.readManifest(this.latest)).tasks);
    this.observeId(await this.options.store.highestId());
    if (this.latest > 0) this.options.logger.info({ checkpoint: this.latest }, 'latest complete checkpoint');
  }

  get latestCompleted(): number {
    return this.latest;
  }

  /** True while a manifest is being written: checkpoint `latestCompleted + …` may be about to complete. */
  get completingNow(): boolean {
    return this.completing;
  }

  /**
   * True if `worker` proves it holds `task`'s newest state: it acked the latest complete
   * checkpoint of the task under the generation the manifest records for it. No other process
   * can have published anything of the task past that checkpoint (markers are only ever written
   * for complete checkpoints), so the worker's live state continues the only line there is.
   */
  proves(task: number, worker: string, acked: readonly AckedCheckpoint[]): boolean {
    const owner = this.latestOwners.get(task);
    if (this.latest === 0 || owner?.owner !== worker) return false;
    return acked.some((a) => a.checkpointId === this.latest && a.generation === owner.generation);
  }

  /** An id seen elsewhere (a worker's Hello): new checkpoints get higher ids. */
  observeId(id: number): void {
    this.nextId = Math.max(this.nextId, id + 1);
  }

  /** A worker joined: remind it of the latest commit (it may have missed it while we were away). */
  joined(worker: string): void {
    if (this.latest > 0) this.host.send(worker, { checkpointCommitted: { checkpointId: this.latest } });
  }

  tick(): void {
    const now = this.options.clock();
    const pending = this.pending;
    if (pending !== undefined && now - pending.triggeredAtMs > this.options.timeoutMs) {
      this.abandon('timeout', `${pending.acked} of ${pending.participants.size} tasks acked`);
    }
    if (this.pending !== undefined || this.completing || now - this.lastTriggerMs < this.options.intervalMs) return;
    const participants = this.host.participants();
    if (participants !== undefined && participants.size > 0) this.trigger(participants, now);
  }

  ack(worker: string, ack: CheckpointAck__Output): void {
    const pending = this.pending;
    if (pending === undefined || ack.checkpointId !== pending.id) return; // late ack of an abandoned checkpoint
    const chain: SnapshotLink[] = ack.chain.map((link) => ({ ref: link.ref, checkpointId: link.checkpointId, kind: link.delta ? 'delta' : 'base', bytes: link.bytes, records: link.records }));
    const outcome = pending.ack(worker, ack.generation, {
      task: ack.task, owner: worker, generation: ack.generation, snapshot: ack.snapshotRef, bytes: ack.bytes, records: ack.records, offsets: ack.offsets,
      chain: chain.length > 0 ? chain : [{ ref: ack.snapshotRef, checkpointId: ack.checkpointId, kind: 'base', bytes: ack.bytes, records: ack.records }],
    });
    if (outcome !== 'accepted') {
      this.options.logger.debug({ worker, task: ack.task, checkpoint: ack.checkpointId, outcome }, 'checkpoint ack ignored');
      return;
    }
    if (pending.complete) void this.complete(pending);
  }

  declined(worker: string, declined: CheckpointDeclined__Output): void {
    const pending = this.pending;
    if (pending === undefined || declined.checkpointId !== pending.id) return;
    if (!pending.expects(declined.task, worker, declined.generation)) return;
    this.abandon(declineReasons[declined.reason] ?? 'declined', `task ${declined.task} on ${worker}: ${declined.detail}`);
  }

  /** A task lost its owner or moved: a checkpoint waiting for it cannot complete. */
  taskLost(task: number): void {
    if (this.pending?.participants.has(task) === true) this.abandon('task-lost', `task ${task}`);
  }

  private trigger(participants: Map<number, Participant>, now: number): void {
    const id = this.nextId++;
    this.pending = new PendingCheckpoint(id, now, participants);
    this.lastTriggerMs = now;
    this.history.begin(id);
    const byWorker = new Map<string, number[]>();
    for (const [task, p] of participants) byWorker.set(p.worker, [...(byWorker.get(p.worker) ?? []), task]);
    for (const [worker, tasks] of byWorker) this.host.send(worker, { triggerCheckpoint: { checkpointId: id, tasks } });
  }

  private async complete(pending: PendingCheckpoint): Promise<void> {
    this.pending = undefined;
    this.completing = true;
    try {
      const completedAtMs = this.options.clock();
      const tasks = pending.tasks();
      await this.options.store.writeManifest({
        format: manifestFormat, job: this.options.job, checkpointId: pending.id, triggeredAtMs: pending.triggeredAtMs, completedAtMs, tasks,
      });
      this.latest = pending.id;
      this.latestOwners = ownersOf(tasks);
      this.host.broadcast({ checkpointCommitted: { checkpointId: pending.id } });
      const commitMs = this.options.clock() - pending.triggeredAtMs;
      const record = { state: 'completed' as const, durationMs: completedAtMs - pending.triggeredAtMs, bytes: pending.bytes(), tasks: pending.acked };
      this.history.end(pending.id, record);
      this.options.events?.completed({ id: pending.id, ...record }, commitMs);
      // The checkpoint is complete whatever happens to retention: a full store keeps old files a while longer.
      await this.options.store.retain(this.options.retain).catch((err: unknown) => {
        this.options.logger.warn({ checkpoint: pending.id, err: ensureError(err).message }, 'checkpoint retention failed; older checkpoints stay until the next one');
      });
    } catch (err) {
      this.history.end(pending.id, { state: 'abandoned', reason: 'manifest-failed', durationMs: this.options.clock() - pending.triggeredAtMs, bytes: 0, tasks: pending.acked });
      this.options.events?.abandoned('manifest-failed');
      this.options.logger.error({ checkpoint: pending.id, err: ensureError(err).message }, 'writing the checkpoint manifest failed');
    } finally {
      this.completing = false;
      this.host.settled();
    }
  }

  private abandon(reason: AbandonReason, detail: string): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    this.history.end(pending.id, { state: 'abandoned', reason, durationMs: this.options.clock() - pending.triggeredAtMs, bytes: pending.bytes(), tasks: pending.acked });
    this.options.events?.abandoned(reason);
    this.options.logger.warn({ checkpoint: pending.id, reason, detail }, 'checkpoint abandoned');
  }
}

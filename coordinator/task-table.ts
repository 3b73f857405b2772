/**
 * The coordinator's record of every task: who owns it, in which lifecycle state, under which
 * generation. It turns membership changes into Assign/Revoke commands and accepts a worker's
 * TaskReady/Revoked only when it matches the generation of the command it answers; anything
 * else is stale and ignored.
 *
 * A task moving from a live worker A to B is revoked from A first and assigned to B only after
 * A answers Revoked, so two workers never run a task at once. A dead owner is skipped: its
 * tasks are assigned to survivors at once.
 */
import { assignTasks } from './assignment.ts';

export type TaskState = 'unassigned' | 'assigning' | 'running' | 'revoking';
export type RevokeReason = 'rebalance' | 'not-owner' | 'not-proven';

/**
 * An Assign either starts the task from the latest complete checkpoint (`adopt: false`), or
 * confirms a task the worker proved it runs with the newest state (`adopt: true`).
 */
export type ControlCommand =
  | { type: 'assign'; worker: string; task: number; generation: number; adopt: boolean }
  | { type: 'revoke'; worker: string; task: number; generation: number; reason: RevokeReason };

export interface TaskEntry {
  task: number;
  state: TaskState;
  /** Worker running (or starting, or stopping) the task. */
  owner: string | undefined;
  /** Where a revoking task goes next. */
  target: string | undefined;
  /** Generation of the last command about this task; answers must carry it. */
  generation: number;
  sinceMs: number;
  /** An unassigned task that failed is offered again only after this time. */
  retryAtMs: number;
  /** Why the task last failed, until it runs again (shown by the admin API). */
  lastFailure: string | undefined;
}

/** A worker's claim on a task it runs, and whether the claim was proven (see TaskClaim in control.proto). */
export interface Claim {
  task: number;
  proven: boolean;
}

export class TaskTable {
  private readonly entries: TaskEntry[];
  private generationValue = 0;

  constructor(
    readonly taskCount: number,
    private readonly failureBackoffMs = 1_000,
  ) {
    this.entries = Array.from({ length: taskCount }, (_, task) => ({
      task, state: 'unassigned', owner: undefined, target: undefined, generation: 0, sinceMs: 0, retryAtMs: 0, lastFailure: undefined,
    }));
  }

  get generation(): number {
    return this.generationValue;
  }

  /** Continue above a generation seen elsewhere (a worker that outlived the last coordinator). */
  observeGeneration(generation: number): void {
    this.generationValue = Math.max(this.generationValue, generation);
  }

  list(): readonly Readonly<TaskEntry>[] {
    return this.entries;
  }

  /** Brings the table towards the balanced, sticky assignment over `live` workers. */
  rebalance(live: readonly string[], nowMs: number): ControlCommand[] {
    const intended = new Map<number, string>();
    for (const e of this.entries) {
      const who = e.state === 'revoking' ? e.target : e.owner;
      if (who !== undefined) intended.set(e.task, who);
    }
    const desired = assignTasks(this.taskCount, live, intended);
    const generation = this.generationValue + 1;
    const commands: ControlCommand[] = [];
    for (const e of this.entries) {
      const want = desired.get(e.task);
      if (want === undefined) continue;
      if (e.state === 'revoking') {
        e.target = want;
      } else if (e.state === 'unassigned') {
        if (nowMs >= e.retryAtMs) commands.push(this.assign(e, want, generation, nowMs, false));
      } else if (e.owner !== want) {
        Object.assign(e, { state: 'revoking', target: want, generation, sinceMs: nowMs });
        commands.push({ type: 'revoke', worker: e.owner as string, task: e.task, generation, reason: 'rebalance' });
      }
    }
    if (commands.length > 0) this.generationValue = generation;
    return commands;
  }

  /** True if some task waits for an owner and may be offered now. */
  hasAssignableTasks(nowMs: number): boolean {
    return this.entries.some((e) => e.state === 'unassigned' && nowMs >= e.retryAtMs);
  }

  /**
   * A (re)joining worker says it runs these tasks. Ownership is proven, never claimed: an unowned
   * task whose claim is proven is confirmed where it runs (an Assign with `adopt`, under a new
   * generation), so a restarted coordinator takes over a running cluster without moving
   * anything. An unproven claim is revoked (the worker drops its instance; the task is then
   * assigned like any other and restored from the latest checkpoint), and so is a claim on a
   * task owned elsewhere.
   */
  adopt(worker: string, claims: readonly Claim[], nowMs: number): ControlCommand[] {
    const commands: ControlCommand[] = [];
    const generation = this.generationValue + 1;
    for (const { task, proven } of claims) {
      const e = this.entries[task];
      if (e === undefined) continue;
      if (e.state === 'unassigned' && proven) {
        commands.push(this.assign(e, worker, generation, nowMs, true));
      } else if (e.state === 'unassigned') {
        commands.push({ type: 'revoke', worker, task, generation, reason: 'not-proven' });
      } else if (e.owner !== worker) {
        commands.push({ type: 'revoke', worker, task, generation, reason: 'not-owner' });
      }
    }
    if (commands.length > 0) this.generationValue = generation;
    return commands;
  }

  /** Every task's running owner and the generation it runs under, or undefined if any task is not running. */
  runningOwners(): Map<number, { worker: string; generation: number }> | undefined {
    if (this.entries.some((e) => e.state !== 'running')) return undefined;
    return new Map(this.entries.map((e) => [e.task, { worker: e.owner as string, generation: e.generation }]));
  }

  /** The owner restored the task; false if the answer is stale. */
  taskReady(worker: string, task: number, generation: number, nowMs: number): boolean {
    const e = this.entries[task];
    if (e?.state !== 'assigning' || e.owner !== worker || e.generation !== generation) return false;
    Object.assign(e, { state: 'running', sinceMs: nowMs, lastFailure: undefined });
    return true;
  }

  /** The old owner let go of the task: hand it to its target. Empty if the answer is stale. */
  revoked(worker: string, task: number, generation: number, nowMs: number): ControlCommand[] {
    const e = this.entries[task];
    if (e?.state !== 'revoking' || e.owner !== worker || e.generation !== generation) return [];
    if (e.target === undefined) {
      Object.assign(e, { state: 'unassigned', owner: undefined, sinceMs: nowMs });
      return [];
    }
    this.generationValue += 1;
    return [this.assign(e, e.target, this.generationValue, nowMs, false)];
  }

  /** The owner could not run the task: offer it again after a back-off. */
  failed(worker: string, task: number, generation: number, nowMs: number, reason: string): boolean {
    const e = this.entries[task];
    if (e === undefined || e.owner !== worker || e.generation !== generation) return false;
    Object.assign(e, { state: 'unassigned', owner: undefined, target: undefined, sinceMs: nowMs, retryAtMs: nowMs + this.failureBackoffMs, lastFailure: `${worker}: ${reason}` });
    return true;
  }

  /** A worker left or died: its tasks lose their owner (no revoke: it cannot answer). */
  workerGone(worker: string, nowMs: number): number[] {
    const orphaned: number[] = [];
    for (const e of this.entries) {
      if (e.owner === worker) {
        Object.assign(e, { state: 'unassigned', owner: undefined, target: undefined, sinceMs: nowMs });
        orphaned.push(e.task);
      } else if (e.target === worker) {
        e.target = undefined;
      }
    }
    return orphaned;
  }

  /** Workers that have not answered a Revoke within `timeoutMs` (the caller evicts them). */
  stuckRevokes(nowMs: number, timeoutMs: number): string[] {
    const stuck = this.entries.filter((e) => e.state === 'revoking' && nowMs - e.sinceMs > timeoutMs);
    return [...new Set(stuck.map((e) => e.owner as string))];
  }

  tasksOf(worker: string): number[] {
    return this.entries.filter((e) => e.owner === worker).map((e) => e.task);
  }

  private assign(e: TaskEntry, worker: string, generation: number, nowMs: number, adopt: boolean): ControlCommand {
    Object.assign(e, { state: 'assigning', owner: worker, target: undefined, generation, sinceMs: nowMs });
    return { type: 'assign', worker, task: e.task, generation, adopt };
  }
}

/**
 * The coordinator's decisions, free of I/O: it hears worker messages (through the control
 * server), keeps Membership and the TaskTable in step, and sends the resulting Assign/Revoke
 * commands through each worker's link. Time comes from an injected clock, so tests drive it
 * without sleeping or sockets.
 */
import type { Logger } from '../common/logger.ts';
import type { CoordinatorMessage, Hello__Output, TaskStats__Output, WorkerMessage__Output } from '../proto/control.ts';
import type { CheckpointCoordinator, CheckpointHost } from './checkpoints/checkpoint-coordinator.ts';
import { Membership } from './membership.ts';
import { TaskTable, type ControlCommand, type TaskState } from './task-table.ts';

/** How the controller reaches one connected worker. */
export interface WorkerLink {
  send(message: CoordinatorMessage): void;
  /** Ends the session (the worker reconnects if it is still alive). */
  close(reason: string): void;
}

export interface ClusterControllerOptions {
  job: string;
  taskCount: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  revokeTimeoutMs: number;
  /**
   * After a (re)start the coordinator only adopts tasks for this long before it assigns any,
   * so workers that outlived the previous coordinator can reconnect and claim what they run.
   */
  adoptGraceMs: number;
  /**
   * Workers the first assignment waits for: once they have all joined, tasks are assigned (the
   * adoption grace cut short: every claim is in); otherwise at `expectWorkersWaitMs` after start
   * (or the adoption grace, if longer). 0 or absent: assign once the adoption grace is over.
   */
  expectWorkers?: number;
  expectWorkersWaitMs?: number;
  clock: () => number;
  logger: Logger;
  /** Called after every change of assignment (metrics, tests). */
  onChange?: () => void;
  /** Called when a worker reports a task failed (metrics). */
  onTaskFailed?: (task: number, reason: string) => void;
}

export interface ClusterView {
  generation: number;
  workers: { id: string; pid: number; endpoint: string; alive: boolean; tasks: number[]; recordsIn: number; recordsOut: number }[];
  tasks: { task: number; worker: string | null; state: TaskState; lastFailure?: string }[];
}

const departedKept = 20;

export class ClusterController {
  private readonly membership: Membership;
  readonly tasks: TaskTable;
  private readonly links = new Map<string, WorkerLink>();
  private readonly stats = new Map<string, TaskStats__Output[]>();
  private readonly departed: { id: string; pid: number; endpoint: string }[] = [];
  private readonly assignFromMs: number;
  private readonly startedMs: number;
  /** Set once the first assignment was allowed: from then on every change rebalances. */
  private assigning = false;
  private checkpoints: CheckpointCoordinator | undefined;
  /** Assigns decided while a manifest was being written; sent once it is durable (or failed). */
  private held: Extract<ControlCommand, { type: 'assign' }>[] = [];

  constructor(private readonly options: ClusterControllerOptions) {
    this.membership = new Membership(options.heartbeatTimeoutMs);
    this.tasks = new TaskTable(options.taskCount);
    this.startedMs = options.clock();
    this.assignFromMs = this.startedMs + options.adoptGraceMs;
  }

  /** What the checkpoint coordinator needs from the cluster. */
  checkpointHost(): CheckpointHost {
    return {
      participants: () => this.tasks.runningOwners(),
      send: (worker, message) => this.links.get(worker)?.send(message),
      broadcast: (message) => {
        for (const link of this.links.values()) link.send(message);
      },
      settled: () => this.sendHeld(),
    };
  }

  attachCheckpoints(checkpoints: CheckpointCoordinator): void {
    this.checkpoints = checkpoints;
  }

  /** A worker opened a session. Returns false (after telling it why) if it cannot join. */
  hello(hello: Hello__Output, link: WorkerLink): boolean {
    const now = this.options.clock();
    if (hello.job !== this.options.job) {
      link.send({ reject: { reason: `this coordinator runs job '${this.options.job}', not '${hello.job}'` } });
      return false;
    }
    if (this.membership.has(hello.workerId)) this.remove(hello.workerId, 'replaced by a new session');
    this.membership.join({ id: hello.workerId, endpoint: hello.endpoint, pid: hello.pid, capacity: hello.capacity }, now);
    this.links.set(hello.workerId, link);
    this.tasks.observeGeneration(hello.lastGeneration);
    this.checkpoints?.observeId(hello.lastCheckpoint);
    const claims = hello.claims.map((c) => ({
      task: c.task,
      proven: this.checkpoints?.proves(c.task, hello.workerId, c.acked.map((a) => ({ checkpointId: a.checkpointId, generation: a.generation }))) ?? false,
    }));
    this.options.logger.info({ worker: hello.workerId, pid: hello.pid, claims: claims.map((c) => `${c.task}${c.proven ? '' : ' (not proven)'}`) }, 'worker joined');
    link.send({
      welcome: {
        generation: this.tasks.generation, job: this.options.job, heartbeatIntervalMs: this.options.heartbeatIntervalMs, taskCount: this.options.taskCount,
        leaseMs: this.options.heartbeatTimeoutMs,
      },
    });
    this.checkpoints?.joined(hello.workerId);
    this.dispatch(this.tasks.adopt(hello.workerId, claims, now));
    this.rebalance();
    return true;
  }

  /** A message on an established session. Messages of non-members are ignored. */
  message(worker: string, message: WorkerMessage__Output): void {
    const now = this.options.clock();
    if (!this.membership.heartbeat(worker, now)) return;
    switch (message.body) {
      case 'heartbeat':
        this.stats.set(worker, message.heartbeat?.taskStats ?? []);
        this.links.get(worker)?.send({ heartbeatAck: { seq: message.heartbeat?.seq ?? 0 } });
        return;
      case 'taskReady':
        if (message.taskReady && this.tasks.taskReady(worker, message.taskReady.task, message.taskReady.generation, now)) this.changed();
        return;
      case 'revoked':
        if (message.revoked) this.dispatch(this.tasks.revoked(worker, message.revoked.task, message.revoked.generation, now));
        return;
      case 'checkpointAck':
        if (message.checkpointAck) this.checkpoints?.ack(worker, message.checkpointAck);
        return;
      case 'checkpointDeclined':
        if (message.checkpointDeclined) this.checkpoints?.declined(worker, message.checkpointDeclined);
        return;
      case 'taskFailed': {
        const f = message.taskFailed;
        if (f && this.tasks.failed(worker, f.task, f.generation, now, f.reason)) {
          this.checkpoints?.taskLost(f.task);
          this.options.onTaskFailed?.(f.task, f.reason);
          this.options.logger.warn({ worker, task: f.task, reason: f.reason }, 'task failed on worker; offering it again');
          this.changed();
        }
        return;
      }
      case 'hello':
      case undefined:
        this.options.logger.warn({ worker, body: message.body }, 'unexpected message on an established session');
    }
  }

  /** The session of `worker` ended. Ignored unless `link` is its current session. */
  disconnected(worker: string, link: WorkerLink): void {
    if (this.links.get(worker) !== link) return;
    this.remove(worker, 'session closed');
    this.rebalance();
  }

  /** Periodic housekeeping: silent workers and stuck revokes are evicted; failed tasks retried. */
  tick(): void {
    const now = this.options.clock();
    const evict = new Set([...this.membership.expired(now), ...this.tasks.stuckRevokes(now, this.options.revokeTimeoutMs)]);
    for (const worker of evict) {
      this.links.get(worker)?.close('evicted: missed heartbeats or did not answer a revoke');
      this.remove(worker, 'evicted');
    }
    if (evict.size > 0 || this.tasks.hasAssignableTasks(now)) this.rebalance();
    this.checkpoints?.tick();
  }

  view(): ClusterView {
    const owners = (id: string): number[] => this.tasks.tasksOf(id);
    const sum = (id: string, field: 'recordsIn' | 'recordsOut'): number => (this.stats.get(id) ?? []).reduce((total, s) => total + s[field], 0);
    return {
      generation: this.tasks.generation,
      workers: [
        ...this.membership.list().map((m) => ({
          id: m.id, pid: m.pid, endpoint: m.endpoint, alive: true, tasks: owners(m.id), recordsIn: sum(m.id, 'recordsIn'), recordsOut: sum(m.id, 'recordsOut'),
        })),
        ...this.departed.map((d) => ({ ...d, alive: false, tasks: [], recordsIn: 0, recordsOut: 0 })),
      ],
      tasks: this.tasks.list().map((e) => ({ task: e.task, worker: e.owner ?? null, state: e.state, ...(e.lastFailure === undefined ? {} : { lastFailure: e.lastFailure }) })),
    };
  }

  private remove(worker: string, why: string): void {
    const member = this.membership.get(worker);
    if (member === undefined) return;
    this.membership.leave(worker);
    this.links.delete(worker);
    this.stats.delete(worker);
    this.departed.unshift({ id: member.id, pid: member.pid, endpoint: member.endpoint });
    this.departed.splice(departedKept);
    const orphaned = this.tasks.workerGone(worker, this.options.clock());
    for (const task of orphaned) this.checkpoints?.taskLost(task);
    this.options.logger.warn({ worker, why, orphaned }, 'worker left');
  }

  private rebalance(): void {
    if (!this.assigning && !this.mayAssignFirst()) return;
    this.assigning = true;
    this.dispatch(this.tasks.rebalance(this.membership.ids(), this.options.clock()));
  }

  /** The first assignment: after the adoption grace, and once the expected workers are here (or waited for long enough). */
  private mayAssignFirst(): boolean {
    const now = this.options.clock();
    const expected = this.options.expectWorkers ?? 0;
    if (expected === 0) return now >= this.assignFromMs;
    if (this.membership.ids().length >= expected) return true;
    return now >= Math.max(this.assignFromMs, this.startedMs + (this.options.expectWorkersWaitMs ?? 10_000));
  }

  /**
   * Sends the commands. An Assign that restores waits while a manifest is being written: it must
   * name the checkpoint that is about to complete, or its new owner would restore an older one
   * while the old owner may still publish the newer one.
   */
  private dispatch(commands: ControlCommand[]): void {
    for (const c of commands) {
      this.checkpoints?.taskLost(c.task);
      if (c.type === 'assign' && !c.adopt && this.checkpoints?.completingNow === true) this.held.push(c);
      else this.send(c);
    }
    if (commands.length > 0) {
      this.options.logger.info({ generation: this.tasks.generation, commands: commands.map((c) => `${c.type} ${c.task}->${c.worker}`) }, 'assignment changed');
      this.changed();
    }
  }

  private send(c: ControlCommand): void {
    const link = this.links.get(c.worker);
    if (c.type === 'assign') link?.send({ assign: { generation: c.generation, task: c.task, restoreFrom: this.checkpoints?.latestCompleted ?? 0, adopt: c.adopt } });
    else link?.send({ revoke: { generation: c.generation, task: c.task, reason: c.reason } });
  }

  /** The manifest write settled: send the Assigns that waited for it, unless the task moved on since. */
  private sendHeld(): void {
    const held = this.held;
    this.held = [];
    for (const c of held) {
      const e = this.tasks.list()[c.task];
      if (e?.state === 'assigning' && e.owner === c.worker && e.generation === c.generation) this.send(c);
    }
  }

  private changed(): void {
    this.options.onChange?.();
  }
}

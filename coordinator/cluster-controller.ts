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
  clock: () => number;
  logger: Logger;
  /** Called after every change of assignment (metrics, tests). */
  onChange?: () => void;
}

export interface ClusterView {
  generation: number;
  workers: { id: string; pid: number; endpoint: string; alive: boolean; tasks: number[]; recordsIn: number; recordsOut: number }[];
  tasks: { task: number; worker: string | null; state: TaskState }[];
}

const departedKept = 20;

export class ClusterController {
  private readonly membership: Membership;
  readonly tasks: TaskTable;
  private readonly links = new Map<string, WorkerLink>();
  private readonly stats = new Map<string, TaskStats__Output[]>();
  private readonly departed: { id: string; pid: number; endpoint: string }[] = [];
  private readonly assignFromMs: number;
  private checkpoints: CheckpointCoordinator | undefined;

  constructor(private readonly options: ClusterControllerOptions) {
    this.membership = new Membership(options.heartbeatTimeoutMs);
    this.tasks = new TaskTable(options.taskCount);
    this.assignFromMs = options.clock() + options.adoptGraceMs;
  }

  /** What the checkpoint coordinator needs from the cluster. */
  checkpointHost(): CheckpointHost {
    return {
      participants: () => this.tasks.runningOwners(),
      send: (worker, message) => this.links.get(worker)?.send(message),
      broadcast: (message) => {
        for (const link of this.links.values()) link.send(message);
      },
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
    this.options.logger.info({ worker: hello.workerId, pid: hello.pid, owned: hello.ownedTasks }, 'worker joined');
    link.send({ welcome: { generation: this.tasks.generation, job: this.options.job, heartbeatIntervalMs: this.options.heartbeatIntervalMs, taskCount: this.options.taskCount } });
    this.checkpoints?.joined(hello.workerId);
    this.dispatch(this.tasks.adopt(hello.workerId, hello.ownedTasks, now));
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
        if (f && this.tasks.failed(worker, f.task, f.generation, now)) {
          this.checkpoints?.taskLost(f.task);
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
      tasks: this.tasks.list().map((e) => ({ task: e.task, worker: e.owner ?? null, state: e.state })),
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
    if (this.options.clock() < this.assignFromMs) return;
    this.dispatch(this.tasks.rebalance(this.membership.ids(), this.options.clock()));
  }

  private dispatch(commands: ControlCommand[]): void {
    for (const c of commands) {
      const link = this.links.get(c.worker);
      this.checkpoints?.taskLost(c.task);
      if (c.type === 'assign') link?.send({ assign: { generation: c.generation, task: c.task, restoreFrom: this.checkpoints?.latestCompleted ?? 0 } });
      else link?.send({ revoke: { generation: c.generation, task: c.task, reason: c.reason } });
    }
    if (commands.length > 0) {
      this.options.logger.info({ generation: this.tasks.generation, commands: commands.map((c) => `${c.type} ${c.task}->${c.worker}`) }, 'assignment changed');
      this.changed();
    }
  }

  private changed(): void {
    this.options.onChange?.();
  }
}

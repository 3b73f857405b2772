/**
 * One checkpoint being collected: which task owners must ack it (under which generation), and
 * the acks so far. An ack counts only from the task's expected owner and generation; a repeat
 * is a duplicate, anything else unknown (both ignored), as in Flink's PendingCheckpoint.
 */
import type { TaskCheckpoint } from '../../state/checkpoint-store.ts';

export interface Participant {
  worker: string;
  generation: number;
}

export type AckOutcome = 'accepted' | 'duplicate' | 'unknown';

export class PendingCheckpoint {
  private readonly acks = new Map<number, TaskCheckpoint>();

  constructor(
    readonly id: number,
    readonly triggeredAtMs: number,
    readonly participants: ReadonlyMap<number, Participant>,
  ) {}

  ack(worker: string, generation: number, checkpoint: TaskCheckpoint): AckOutcome {
    const expected = this.participants.get(checkpoint.task);
    if (expected === undefined || expected.worker !== worker || expected.generation !== generation) return 'unknown';
    if (this.acks.has(checkpoint.task)) return 'duplicate';
    this.acks.set(checkpoint.task, checkpoint);
    return 'accepted';
  }

  /** True if `task` takes part under this owner and generation (declines are checked the same way). */
  expects(task: number, worker: string, generation: number): boolean {
    const expected = this.participants.get(task);
    return expected !== undefined && expected.worker === worker && expected.generation === generation;
  }

  get complete(): boolean {
    return this.acks.size === this.participants.size;
  }

  get acked(): number {
    return this.acks.size;
  }

  tasks(): TaskCheckpoint[] {
    return [...this.acks.values()].sort((a, b) => a.task - b.task);
  }

  bytes(): number {
    return [...this.acks.values()].reduce((sum, t) => sum + t.bytes, 0);
  }
}

/** The last few checkpoints and how they ended, for the admin API and metrics. */

export type CheckpointState = 'pending' | 'completed' | 'abandoned';

/** Why a checkpoint was abandoned (typed, the same in logs, API and metrics). */
export const abandonReasons = ['timeout', 'task-lost', 'task-not-running', 'snapshot-failed', 'barrier-failed', 'declined', 'manifest-failed'] as const;
export type AbandonReason = (typeof abandonReasons)[number];

export interface CheckpointRecord {
  id: number;
  state: CheckpointState;
  reason?: AbandonReason;
  /** From trigger to completion or abandonment. */
  durationMs: number;
  bytes: number;
  /** Tasks acked. */
  tasks: number;
}

export class CheckpointHistory {
  private readonly records: CheckpointRecord[] = [];

  constructor(private readonly keep = 20) {}

  begin(id: number): void {
    this.records.unshift({ id, state: 'pending', durationMs: 0, bytes: 0, tasks: 0 });
    this.records.splice(this.keep);
  }

  end(id: number, update: Omit<CheckpointRecord, 'id'>): void {
    const record = this.records.find((r) => r.id === id);
    if (record !== undefined) Object.assign(record, update);
  }

  recent(): readonly CheckpointRecord[] {
    return this.records;
  }
}

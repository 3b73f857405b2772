/** What a task reports about a barrier once its snapshot is done: an ack or a typed decline. */
import type { SnapshotLink, TaskOffsets } from './thread-protocol.ts';

export type DeclineReason = 'TASK_NOT_RUNNING' | 'SNAPSHOT_FAILED' | 'BARRIER_FAILED';

export type CheckpointReport =
  | {
      kind: 'ack';
      task: number;
      generation: number;
      checkpointId: number;
      offsets: TaskOffsets;
      /** The newest link of `chain`. */
      snapshotRef: string;
      /** What this barrier wrote (0 when nothing changed since the previous one). */
      bytes: number;
      records: number;
      snapshotMs: number;
      /** The task's snapshot chain at the barrier: a base and the deltas after it. */
      chain: SnapshotLink[];
    }
  | { kind: 'declined'; task: number; generation: number; checkpointId: number; reason: DeclineReason; detail: string };

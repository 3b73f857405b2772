/** What a task reports about a barrier once its snapshot is done: an ack or a typed decline. */
import type { TaskOffsets } from './thread-protocol.ts';

export type DeclineReason = 'TASK_NOT_RUNNING' | 'SNAPSHOT_FAILED' | 'BARRIER_FAILED';

export type CheckpointReport =
  | {
      kind: 'ack';
      task: number;
      generation: number;
      checkpointId: number;
      offsets: TaskOffsets;
      snapshotRef: string;
      bytes: number;
      records: number;
      snapshotMs: number;
    }
  | { kind: 'declined'; task: number; generation: number; checkpointId: number; reason: DeclineReason; detail: string };

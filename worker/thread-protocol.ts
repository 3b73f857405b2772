/**
 * Messages between a worker's main thread (dispatcher, sinks) and its actor threads. Each
 * actor thread is a one-thread piscina pool; a task lives on exactly one thread, and the main
 * thread sends a task's requests one at a time in order, so a task's records are handled in
 * offset order and nothing else touches its state. Tagged unions, one response type per request.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CompactionPolicy, SnapshotLink, SnapshotTarget } from '../state/snapshot-chain.ts';

export type { CompactionPolicy, SnapshotLink, SnapshotTarget } from '../state/snapshot-chain.ts';

export type { BufferedOutput, DeadLetter, OutputRecord, SourceRecord } from '../job/contract/records.ts';
import type { BufferedOutput, DeadLetter, OutputRecord, SourceRecord } from '../job/contract/records.ts';

/**
 * A timer whose handler failed (threw, or left a state JSON cannot hold). The timer is dropped
 * (timers fire once), the key's state is rolled back and the call's outputs are discarded.
 */
export interface TimerFailure {
  actor: string;
  key: string;
  timer: { kind: 'event-time' | 'processing-time'; timestampMs: number; tag: string };
  reason: string;
}

/** Next offset to read, per source topic (the partition is the task number). */
export type TaskOffsets = Record<string, string>;

export interface TaskRuntimeStats {
  actorsActive: number;
  /** Outputs and dead letters held for exactly-once publication (not yet published). */
  pendingOutputs: number;
  /** Timers registered and not yet fired. */
  timersPending: number;
  /** Event-time watermark, ms; -Infinity is sent as null. */
  watermarkMs: number | null;
}

/** A completed checkpoint's snapshot chain of one task, to restore from. */
export interface RestoreSource {
  checkpointId: number;
  /** The checkpoint store's root, which the links' refs are relative to. */
  root: string;
  /** A base and the deltas after it (state/snapshot-chain.ts). */
  chain: SnapshotLink[];
}

/** Posted on a barrier's `done` port once the asynchronous snapshot finished. */
export type SnapshotResult =
  | {
      type: 'snapshot-written';
      checkpointId: number;
      /** What this barrier wrote (0: nothing changed, the chain is the previous one). */
      bytes: number;
      records: number;
      durationMs: number;
      /** The task's state at the barrier: a base and the deltas after it. */
      chain: SnapshotLink[];
    }
  | { type: 'snapshot-failed'; checkpointId: number; reason: string };


export type ThreadRequest =
  /**
   * Open the task under `dataDir`: with `restore`, wipe `<dataDir>/task-<n>` and rebuild it from
   * the snapshot chain (checksums verified; a bad link throws SnapshotCorruptError naming the file);
   * without, start from empty state. Reports where to resume reading.
   */
  | {
      type: 'open';
      task: number;
      dataDir: string;
      restore: RestoreSource | null;
      /** The job's task count (see TaskRuntimeOptions.taskCount). */
      taskCount?: number;
      /** When the task writes a new base in the background (default: snapshot-jobs.ts). */
      compaction?: CompactionPolicy;
    }
  /**
   * Barrier `checkpointId`: everything before it is in the checkpoint, nothing after. Write dirty
   * actors, timers, watermark and offsets in one batch; write what it changed and the sealed
   * output buffer as a delta on the previous snapshot (or the whole store as a base, from a
   * LevelDB iterator opened at once) to `target` (temp file, fsync, rename) in the background
   * while later requests are handled; post a SnapshotResult on `done`. Outputs after the barrier
   * belong to epoch `checkpointId + 1`.
   */
  | { type: 'barrier'; task: number; checkpointId: number; target: SnapshotTarget; done: MessagePort }
  /** The buffered outputs (dead letters included) of epochs <= `checkpointId`, in emission order. */
  | { type: 'committed-outputs'; task: number; checkpointId: number }
  /** Those outputs are published: drop them from the buffer, in memory and in LevelDB (one small batch, at once). */
  | { type: 'outputs-published'; task: number; checkpointId: number }
  /**
   * The task replayed input whose outputs an earlier owner already published (it was restored
   * from a checkpoint older than its marker): drop every output and dead letter added since the
   * last barrier or restore, none of which may be published again.
   */
  | { type: 'discard-replayed'; task: number; publishedThrough: number }
  /** Handle records of the task, in order. `nowMs` is the main thread's processing time. */
  | { type: 'records'; task: number; records: SourceRecord[]; nowMs: number }
  /** Fire due processing-time timers. */
  | { type: 'tick'; task: number; nowMs: number }
  /**
   * Close the task's LevelDB and forget the task, without writing anything: whatever happened
   * since the last barrier is dropped (the next owner restores from the last checkpoint).
   */
  | { type: 'close'; task: number };

export type ThreadResponse =
  | {
      type: 'opened';
      task: number;
      offsets: TaskOffsets;
      /** Checkpoint the state came from; 0 = fresh state. */
      restoredFrom: number;
    }
  | { type: 'barrier-taken'; task: number; checkpointId: number; offsets: TaskOffsets }
  | {
      type: 'committed-outputs';
      task: number;
      checkpointId: number;
      outputs: BufferedOutput[];
      /** Watermark to announce per repartition sink with these outputs (see TaskRuntime.progress). */
      progress?: Record<string, number>;
    }
  | { type: 'outputs-published'; task: number; checkpointId: number }
  | { type: 'replayed-discarded'; task: number; discarded: number }
  | {
      type: 'processed';
      task: number;
      /** Outputs of at-least-once sinks, to publish at once. Exactly-once outputs stay in the buffer. */
      outputs: OutputRecord[];
      /** For logs and metrics only: they are in the buffer and published exactly once with their epoch. */
      deadLetters: DeadLetter[];
      stats: TaskRuntimeStats;
      /** Timers whose handler failed in this request; absent when none did. */
      timerFailures?: TimerFailure[];
      /** Job counter increments of this request; absent when none. */
      counts?: Record<string, number>;
    }
  | { type: 'closed'; task: number };

/** What the main thread passes to every actor thread at start (piscina `workerData`). */
export interface ActorThreadData {
  /** Built-in job name or module path, resolved the same way as on the main thread. */
  jobRef: string;
}

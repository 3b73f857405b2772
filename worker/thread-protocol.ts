/**
 * Messages between a worker's main thread (dispatcher, sinks) and its actor threads. Each
 * actor thread is a one-thread piscina pool; a task lives on exactly one thread, and the main
 * thread sends a task's requests one at a time in order, so a task's records are handled in
 * offset order and nothing else touches its state. Tagged unions, one response type per request.
 */

/** One Kafka record as the dispatcher hands it over. `offset` is Kafka's decimal string. */
export interface SourceRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Kafka record timestamp, ms since the epoch. */
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: Record<string, string>;
}

/** Something an actor emitted with `ctx.emit`, for the main thread to hand to the sink. */
export interface OutputRecord {
  sink: string;
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}

/** A record that could not be decoded or handled, with its original bytes and the reason. */
export interface DeadLetter {
  source: SourceRecord;
  /** Dotted path of the bad field (`op`, `payload.after`), or '' when the whole record is at fault. */
  field: string;
  reason: string;
  /** Actor whose handler threw, when that was the failure. */
  actor?: string;
}

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
  /** Timers registered and not yet fired. */
  timersPending: number;
  /** Event-time watermark, ms; -Infinity is sent as null. */
  watermarkMs: number | null;
}

export type ThreadRequest =
  /** Open (or create) the task's LevelDB under `dataDir` and report where to resume reading. */
  | { type: 'open'; task: number; dataDir: string }
  /** Handle records of the task, in order. `nowMs` is the main thread's processing time. */
  | { type: 'records'; task: number; records: SourceRecord[]; nowMs: number }
  /** Fire due processing-time timers. */
  | { type: 'tick'; task: number; nowMs: number }
  /** Write dirty actors, timers, watermark and offsets to LevelDB in one atomic batch. */
  | { type: 'flush'; task: number }
  /** Flush, then close the task's LevelDB and forget the task. */
  | { type: 'close'; task: number };

export type ThreadResponse =
  | { type: 'opened'; task: number; offsets: TaskOffsets }
  | {
      type: 'processed';
      task: number;
      outputs: OutputRecord[];
      deadLetters: DeadLetter[];
      stats: TaskRuntimeStats;
      /** Timers whose handler failed in this request; absent when none did. */
      timerFailures?: TimerFailure[];
    }
  | { type: 'flushed'; task: number; offsets: TaskOffsets }
  | { type: 'closed'; task: number };

/** What the main thread passes to every actor thread at start (piscina `workerData`). */
export interface ActorThreadData {
  /** Built-in job name or module path, resolved the same way as on the main thread. */
  jobRef: string;
}

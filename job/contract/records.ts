/**
 * The records that cross the job contract: what a source hands to a format, what an actor's
 * emit becomes, and what a record that failed becomes. Plain data, so they cross thread
 * boundaries (structured clone) unchanged.
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
  /** Kafka timestamp, ms since the epoch; absent: the time of writing. */
  timestamp?: number;
  headers?: Record<string, string>;
  /** The partition, set on the copies of a broadcast output; absent: Kafka's default partitioner on the key. */
  partition?: number;
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


/** One exactly-once output or dead letter held in the task's buffer, with the epoch it was produced in. */
export type BufferedOutput = { epoch: number; output: OutputRecord } | { epoch: number; deadLetter: DeadLetter };

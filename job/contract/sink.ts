/**
 * The sink seam: what a sink implementation provides to the worker, for each kind of delivery.
 * Kafka is the first implementation of both (worker/task-transactions.ts, worker/kafka-sinks.ts);
 * a database sink (PostgreSQL, issue 12) is the next exactly-once one. docs/ARCHITECTURE.md,
 * "The sink seam", says how each method keeps exactly-once, and how a PostgreSQL sink would.
 */
import type { BufferedOutput, OutputRecord } from './records.ts';

/** The newest checkpoint whose outputs a task published, and the checkpoint store it belongs to. */
export interface PublishedMark {
  readonly checkpointId: number;
  /** Id of the checkpoint store (undefined: published before stores had ids). */
  readonly store: string | undefined;
  /**
   * A sink made of parts that commit one after another (Kafka, then each database): the newest
   * checkpoint every part published. Absent: `checkpointId`. Publishing a checkpoint again
   * reaches only the parts behind it.
   */
  readonly oldest?: number;
}

/**
 * An exactly-once sink of one task. The worker calls `fence` once when it takes the task, then
 * `lastPublished` (a restore never goes back past it), then `publish` once per completed
 * checkpoint, in checkpoint order, with every output and dead letter of the epochs it covers.
 * After a restore it may get epochs some of its parts published already: each part skips what
 * its own mark covers.
 */
export interface ExactlyOnceSink {
  /** Makes every earlier owner of the task unable to publish (Kafka: a transactional id per task; PostgreSQL: a row lock on the task's epoch row). */
  fence(): Promise<void>;
  /** The newest checkpoint this task published, as the sink itself recorded it, atomically with those outputs. */
  lastPublished(): Promise<PublishedMark | undefined>;
  /**
   * Publishes a checkpoint's outputs and records `checkpointId` as published, all or nothing.
   * @param progress watermark per repartition sink, announced after the outputs (sinks without repartitions ignore it)
   */
  publish(checkpointId: number, outputs: readonly BufferedOutput[], progress?: Readonly<Record<string, number>>): Promise<void>;
  close(): Promise<void>;
}

/** The at-least-once sinks of a worker: outputs are published as soon as an actor emits them, again after a failure. */
export interface AtLeastOnceSink {
  start(): Promise<void>;
  /** Resolves once the outputs are durable in the sink. */
  publish(outputs: readonly OutputRecord[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The job contract: what a job definition is, as the coordinator (topics, task count) and the
 * worker (runtime) both read it. Types only, apart from the brand symbol; the builders that make
 * these values live in job/builders/, the runtime that runs them in worker/runtime/.
 */
import type { ActorContext, RecordMeta, Timer } from './context.ts';
import type { SourceRecord } from './records.ts';

/**
 * Turns a record's bytes into the value actors receive. Formats are pure and stateless.
 * @typeParam T the decoded value
 */
export interface SourceFormat<T> {
  /** For logs and dead letters, e.g. `debezium`. */
  readonly name: string;
  /**
   * @param where names the record in errors, e.g. `orders[3]@1042`
   * @returns the value, or null to skip the record (e.g. a tombstone)
   * @throws BadRecordError when the record cannot be decoded; it goes to the dead letters
   */
  decode(record: SourceRecord, where: string): T | null;
}

/** A Kafka topic read by the job. All sources of a job are co-partitioned: task p reads partition p of each. */
export interface KafkaSource<T = unknown> {
  readonly kind: 'kafka';
  readonly topic: string;
  readonly format: SourceFormat<T>;
  /** Partitions to create the topic with when it does not exist; absent: the topic must exist. */
  readonly partitions?: number;
}

/**
 * How a sink publishes. `exactly-once`: outputs are published in a Kafka transaction when the
 * checkpoint that covers them commits. `at-least-once`: published at once, possibly again after
 * a failure.
 */
export type Delivery = 'at-least-once' | 'exactly-once';

/** A Kafka topic the job writes to. */
export interface KafkaSink {
  readonly kind: 'kafka';
  readonly topic: string;
  readonly delivery: Delivery;
  /** Partitions to create the topic with when it does not exist; absent: the topic must exist. */
  readonly partitions?: number;
}

/**
 * A keyed actor: for each key, a state and handlers. The state must be JSON-serialisable (plain
 * objects, arrays, strings, finite numbers, booleans, null): it is stored as JSON, and after a
 * restart or eviction it comes back as what `JSON.parse` returns. Handlers are synchronous; a
 * handler returns the new state, or nothing to keep the (possibly mutated) state object. Records
 * are shared between the actors that read them: treat them as read-only.
 *
 * @typeParam In the decoded record type of the actor's sources
 * @typeParam S the state of one key
 */
export interface ActorHandlers<In, S> {
  /**
   * The key of a record. Records of one key must all arrive in the same partition (the task),
   * so key by what the producer partitions by, or by something derived from it.
   */
  key(record: In, meta: RecordMeta): string;
  /** The state of a key seen for the first time. */
  initial(): S;
  /** Handles one record of the key. Throwing sends the record to the dead letters and rolls the key's state back. */
  onRecord(record: In, state: S, ctx: ActorContext): S | void;
  /** Handles a timer of the key. Required to register timers. Throwing drops the timer and rolls the state back. */
  onTimer?(timer: Timer, state: S, ctx: ActorContext): S | void;
  /** The record's event time, ms since the epoch; default the Kafka timestamp. Drives the watermark. */
  eventTime?(record: In, meta: RecordMeta): number;
}

/** What `keyedActor()` takes: the handlers and the source name(s) the actor reads. */
export interface KeyedActorSpec<In, S> extends ActorHandlers<In, S> {
  from: string | readonly string[];
}

/** A keyed actor as `keyedActor()` returns it (frozen, `from` as a list). */
export interface KeyedActor<In = unknown, S = unknown> extends ActorHandlers<In, S> {
  readonly kind: 'keyed';
  readonly from: readonly string[];
}

/** Event-time settings of a job. */
export interface WatermarkOptions {
  /** How late (in event time) a record may arrive after a later one and still be on time. Default 0. */
  outOfOrdernessMs?: number;
  /** A source without records for this long (processing time) stops holding the watermark back. */
  idleSourceMs?: number;
}

/** What `defineJob` takes. Names of sources, sinks and actors: a letter or `_`, then letters, digits, `_`, `-`. */
export interface JobSpec {
  /** The job's id: 1-100 characters from [a-zA-Z0-9._-]; it names Kafka transactional ids and groups. */
  name: string;
  sources: Record<string, KafkaSource>;
  sinks: Record<string, KafkaSink>;
  actors: Record<string, KeyedActor>;
  watermark?: WatermarkOptions;
}

/** Marks a {@link JobDefinition} made by `defineJob` (shared across copies of this module). */
export const JOB_DEFINITION: unique symbol = Symbol.for('eddy.JobDefinition');

/** A validated, frozen job, as `defineJob` returns it. */
export interface JobDefinition {
  readonly [JOB_DEFINITION]: true;
  readonly name: string;
  readonly sources: Readonly<Record<string, KafkaSource>>;
  readonly sinks: Readonly<Record<string, KafkaSink>>;
  readonly actors: Readonly<Record<string, KeyedActor>>;
  readonly watermark: { readonly outOfOrdernessMs: number; readonly idleSourceMs?: number };
}

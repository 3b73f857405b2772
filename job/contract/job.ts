/**
 * The job contract: what a job definition is, as the coordinator (topics, task count) and the
 * worker (runtime) both read it. Types, the brand symbol and one pure helper; the builders that make
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

/** A Kafka topic read by the job. All sources of a job have as many partitions: task p reads partition p of each. */
export interface KafkaSource<T = unknown> {
  readonly kind: 'kafka';
  readonly topic: string;
  readonly format: SourceFormat<T>;
  /** Partitions to create the topic with when it does not exist; absent: the topic must exist. */
  readonly partitions?: number;
  /**
   * What the topic's records are partitioned by, as far as co-partitioning goes: two sources
   * read by one actor must agree on it (see {@link partitioningOf}). Declare it on an external
   * topic only when you know its producer partitions by that key with Kafka's default
   * partitioner, e.g. `'murmur2(order_id)'`.
   */
  readonly partitionedBy?: string;
  /** Set on the source side of a {@link Repartition} topic: created and named by Eddy. */
  readonly internal?: true;
  /** Set on the source side of a broadcast {@link Repartition}: every task reads every record. */
  readonly broadcast?: true;
}

/**
 * How a source's records are partitioned: its declared `partitionedBy`, else the Kafka key of
 * that one topic (`key-of:<topic>`), which nothing else shares.
 */
export function partitioningOf(source: KafkaSource): string {
  return source.partitionedBy ?? `key-of:${source.topic}`;
}

/**
 * An internal topic through which a job re-keys records, as a Kafka Streams repartition topic:
 * actors emit to it by its name with the new key, and read it by its name as a source. Eddy
 * creates it (`eddy.<job>.<name>`) with one partition per task, publishes to it in the task's
 * exactly-once transaction like any other output, and partitions it with Kafka's default
 * partitioner (murmur2 of the UTF-8 key), so a key's records always reach the same task. The
 * record's event time travels as the Kafka timestamp.
 */
export interface Repartition<T = unknown> {
  readonly kind: 'repartition';
  /** What the key is, e.g. `product_id`; repartition topics with the same key are co-partitioned. */
  readonly key: string;
  readonly format: SourceFormat<T>;
  /**
   * A broadcast topic (`broadcast()`): every output is written to every partition, so every task
   * reads it, as Flink's broadcast streams. For control records (a truncate, a rule change), not
   * data: it takes part in no co-partitioning check and no watermark.
   */
  readonly broadcast?: true;
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
  /** Set on the sink side of a {@link Repartition} topic. */
  readonly internal?: true;
  /** Set on the sink side of a broadcast {@link Repartition}: each output goes to every partition. */
  readonly broadcast?: true;
  /**
   * An upsert stream: key -> latest value, null (a tombstone) deletes the key. Eddy creates the
   * topic compacted and, within each checkpoint's outputs, keeps only the last value per key
   * (readers of a compacted topic would see no more), so a key updated a thousand times between
   * two checkpoints costs one record. Exactly-once sinks only; outputs need a key.
   */
  readonly upsert?: true;
}

/**
 * A PostgreSQL table the job writes, exactly-once without XA: each checkpoint's rows and the
 * task's published checkpoint id (in `eddy_sink.epochs`) commit in one database transaction.
 * An output's value is the row (a JSON object, its fields the columns); in `upsert` mode a null
 * value deletes the row whose key columns `keyValues(key)` names.
 */
export interface PostgresSink {
  readonly kind: 'postgres';
  /** `schema.table` or `table`; the table must exist. */
  readonly table: string;
  /** `upsert`: INSERT ... ON CONFLICT (key) DO UPDATE, tombstones delete. `append`: INSERT only. */
  readonly mode: 'upsert' | 'append';
  /** The key columns (upsert mode): a unique index or primary key over exactly them. */
  readonly key: readonly string[];
  /** The connection string; absent: the worker's `EDDY_POSTGRES_URL`. */
  readonly connection?: string;
  readonly delivery: 'exactly-once';
  /** Set in upsert mode: the output buffer keeps the last value per key within each checkpoint. */
  readonly upsert?: true;
}

/**
 * A NATS subject the job notifies, at-least-once: each output is published as soon as the actor
 * emits it (the value as the payload, the key in the `Eddy-Key` header), and again after a
 * failure for what followed the task's last checkpoint. With `jetstream`, each publish waits for
 * the stream's ack (a stream must capture the subject).
 */
export interface NatsSink {
  readonly kind: 'nats';
  readonly subject: string;
  readonly delivery: 'at-least-once';
  readonly jetstream?: true;
}

/**
 * An HTTP endpoint the job POSTs each output to (the value as a JSON body, the key in the
 * `Eddy-Key` header), at-least-once, as soon as the actor emits it. Transient failures
 * (connection errors, timeouts, 408, 429, 5xx) retry with exponential backoff; when the attempts
 * run out the task fails and restarts from its checkpoint (so the output is sent again). A
 * permanent refusal (any other 4xx) sends the output to the dead-letter topic with the status
 * and body, and processing goes on.
 */
export interface HttpSink {
  readonly kind: 'http';
  readonly url: string;
  readonly delivery: 'at-least-once';
  readonly headers?: Readonly<Record<string, string>>;
  /** Attempts per output on transient failures (default 8), backoff from 100 ms doubling to 5 s. */
  readonly attempts?: number;
  /** Per request (default 10,000 ms). */
  readonly timeoutMs?: number;
}

/** Where a job's outputs go. */
export type Sink = KafkaSink | PostgresSink | NatsSink | HttpSink;

/**
 * A keyed actor: for each key, a state and handlers. The state must be JSON-serialisable (plain
 * objects, arrays, strings, finite numbers, booleans, null): it is stored as JSON, and after a
 * restart or eviction it comes back as what `JSON.parse` returns. Handlers are synchronous; a
 * handler returns the new state, or nothing to keep the (possibly mutated) state object. Records
 * are shared between the actors that read them: treat them as read-only.
 *
 * An actor that reads one source receives that source's decoded values. An actor that reads
 * several receives a tagged union, `{ source, value }`, typed with {@link Tagged}, so a handler
 * narrows on `record.source` instead of guessing which source a value came from.
 *
 * @typeParam In the decoded record type of the actor's source, or `Tagged<{...}>` of its sources
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
  /**
   * The initial value of the actor's *task state*: one JSON value per task shared by all its keys
   * (Flink's operator state), which handlers read as `ctx.taskState` and replace with
   * `ctx.setTaskState(value)`. It is checkpointed and restored with the keys' states, and rolled
   * back with them when a handler throws. Absent: the actor has none.
   */
  taskState?(): unknown;
  /**
   * State time-to-live, in ms of processing time: a key whose state has not changed for this
   * long is removed, as if it had gone back to `initial()` (Flink's state TTL, updated on create
   * and write). A handler never sees an expired state (it gets `initial()`), and expired keys
   * are swept from the store in the background, so their space is freed without a record of
   * theirs arriving. Timers of an expired key stay registered; the task state never expires.
   * Absent: a key's state lives until it goes back to `initial()` or `ctx.clearState()` is called.
   */
  stateTtlMs?: number;
}

/**
 * What `key()` returns to hand a record to every key the actor has in the task (a key whose state
 * is stored or in memory), one call per key, in key order: e.g. a truncate that retracts every
 * row of a table. Keys starting with NUL are otherwise reserved.
 */
export const EVERY_KEY = '\u0000every-key';

/**
 * What an actor reading several sources receives: the source's name and its decoded value.
 *
 * ```ts
 * type In = Tagged<{ orders: Change<Order>; items: Change<Item> }>;
 * // { source: 'orders'; value: Change<Order> } | { source: 'items'; value: Change<Item> }
 * ```
 */
export type Tagged<BySource extends Record<string, unknown>> = {
  [Name in keyof BySource & string]: { readonly source: Name; readonly value: BySource[Name] };
}[keyof BySource & string];

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
  sinks: Record<string, Sink>;
  /** Re-keying topics: each name is both a source and a sink of the job. */
  repartitions?: Record<string, Repartition>;
  actors: Record<string, KeyedActor>;
  watermark?: WatermarkOptions;
}

/** Marks a {@link JobDefinition} made by `defineJob` (shared across copies of this module). */
export const JOB_DEFINITION: unique symbol = Symbol.for('eddy.JobDefinition');

/**
 * A validated, frozen job, as `defineJob` returns it. Each repartition topic appears as a source
 * and a sink of the same name (`internal: true`, exactly-once).
 */
export interface JobDefinition {
  readonly [JOB_DEFINITION]: true;
  readonly name: string;
  readonly sources: Readonly<Record<string, KafkaSource>>;
  readonly sinks: Readonly<Record<string, Sink>>;
  readonly actors: Readonly<Record<string, KeyedActor>>;
  readonly watermark: { readonly outOfOrdernessMs: number; readonly idleSourceMs?: number };
}

/**
 * What a handler sees while it runs: the record's Kafka metadata, the actor's context (emit,
 * timers, watermark, clock) and the timer that fired. These are public types, re-exported by
 * api.ts; the runtime implements them in worker/runtime/call-context.ts. Kept apart from the
 * definition types so that a job author reads one small file to learn what `ctx` offers.
 */

/** Kafka metadata of the record being handled. */
export interface RecordMeta {
  readonly topic: string;
  /** Kafka partition; equal to the task number. */
  readonly partition: number;
  /** Kafka offset, a decimal string (offsets can exceed 2^53). */
  readonly offset: string;
  /** Kafka record timestamp, ms since the epoch. */
  readonly timestamp: number;
  /** The Kafka key decoded as UTF-8, or null when the record has none. */
  readonly key: string | null;
}

/**
 * Which clock a timer follows. `event-time` timers fire when the task's watermark reaches their
 * timestamp; `processing-time` timers fire when the worker's clock does.
 */
export type TimerKind = 'event-time' | 'processing-time';

/** A timer as handed to `onTimer`. */
export interface Timer {
  readonly kind: TimerKind;
  /** When it was due, ms since the epoch (event time or processing time, per `kind`). */
  readonly timestampMs: number;
  /** The tag given when it was registered ('' by default); tells a handler's timers apart. */
  readonly tag: string;
}

/**
 * Timers of the current actor (one actor = one key of one actor definition). A timer is
 * identified by (kind, timestampMs, tag): registering the same one twice keeps one, and it fires
 * once, calling the actor's `onTimer`. Timers are part of the task's state and survive restarts.
 * A timer already due when registered fires at the end of the current batch (or, when registered
 * from `onTimer`, at the next batch or tick). Timestamps are integer ms, 0 ≤ t < 10^16.
 */
export interface Timers {
  /** Fire when the task's watermark is at or past `timestampMs`. */
  atEventTime(timestampMs: number, tag?: string): void;
  /** Fire when the worker's clock is at or past `timestampMs` (checked on every batch and tick). */
  atProcessingTime(timestampMs: number, tag?: string): void;
  /** Remove a pending timer; does nothing when there is none. */
  cancel(kind: TimerKind, timestampMs: number, tag?: string): void;
}

/**
 * The context of one handler call. Everything a call does through it (emits, timer changes) takes
 * effect only if the call returns normally: when the handler throws, its emits are discarded,
 * its timer changes are dropped and the key's state is rolled back.
 */
export interface ActorContext {
  /** The key this actor instance handles. */
  readonly key: string;
  /** The task (source partition number) the actor lives in. */
  readonly task: number;
  /** The actor's name in the job definition. */
  readonly actor: string;
  /** The record being handled; absent in `onTimer`. */
  readonly record?: RecordMeta;
  /**
   * The actor's event-time watermark, ms since the epoch, as of the start of the current batch
   * (it moves between batches): the lowest, over the sources this actor reads, of the highest
   * event time seen, minus the job's out-of-orderness (idle sources left out); -Infinity before
   * any event time is seen.
   */
  readonly watermark: number;
  /**
   * The event time of what is being handled, ms since the epoch: the record's (from the actor's
   * `eventTime`, default its Kafka timestamp), an event-time timer's timestamp, or the processing
   * time for a processing-time timer. Emits carry it: in the header `eddy.event.time` on sinks
   * (whose Kafka timestamp is the time of writing), as the Kafka timestamp on repartitions.
   */
  readonly eventTime: number;
  /** Timers of this actor and key. */
  readonly timers: Timers;
  /**
   * Sends a record to a sink of the job.
   *
   * @param sink a sink name from the job definition
   * @param key the Kafka key, or null
   * @param value a string is sent as is; anything else is sent as its JSON; null is a tombstone
   * @param options `eventTime`: the record's event time (default {@link eventTime}); `timestamp`:
   *   its Kafka timestamp (default: the time of writing on sinks, the event time on repartitions)
   * @throws Error when the sink is not in the job, or the value cannot be written as JSON
   */
  emit(sink: string, key: string | null, value: unknown, options?: EmitOptions): void;
  /** Processing time of the current batch or tick, ms since the epoch (the worker's clock). */
  now(): number;
  /**
   * Removes this key's state when the call ends (whatever the handler returns): the next call of
   * the key sees `initial()`, and from the next checkpoint on the key takes no space. The key's
   * timers stay registered (cancel them with `timers.cancel`).
   */
  clearState(): void;
  /**
   * Adds `by` (default 1) to the job counter `name`, exported as
   * `eddy_job_events_total{task, counter="<name>"}` (e.g. `duplicates`, `invalid_price`). Like
   * emits, it counts only if the call returns normally. Counters are metrics, not results: after
   * a restore, the records since the last checkpoint count again.
   *
   * @param name 1-100 characters from [A-Za-z0-9_.:-], starting with a letter or _
   */
  count(name: string, by?: number): void;
  /** The actor's task state (see `ActorHandlers.taskState`): live, so changes to it are kept too; undefined when the actor declares none. */
  readonly taskState: unknown;
  /**
   * Replaces the actor's task state; kept if the handler returns normally.
   * @throws Error when the actor declares no `taskState`
   */
  setTaskState(value: unknown): void;
}

/** Options of {@link ActorContext.emit}. */
export interface EmitOptions {
  /**
   * The output's event time, ms since the epoch (integer ≥ 0); default the call's. It travels in
   * the header `eddy.event.time` on sinks and as the Kafka timestamp on repartitions. Prefer it
   * to `timestamp` on sinks: a Kafka timestamp of last year has the topic's time-based retention
   * delete the record soon after it is written.
   */
  eventTime?: number;
  /** The output's Kafka timestamp, ms since the epoch (integer ≥ 0); default: the time of writing on sinks, the event time on repartitions. */
  timestamp?: number;
}

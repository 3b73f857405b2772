/**
 * The `ctx` of one handler call. It only collects the call's effects (emitted records, timer
 * registrations and cancellations); the invoker applies them if the call succeeds and drops
 * them if it throws, so a failed call leaves no trace.
 */
import { TIMER_TS_MAX, type StoredTimer } from '../../state/store-keys.ts';
import type { OutputRecord } from '../thread-protocol.ts';
import type { ActorContext, EmitOptions, RecordMeta, TimerKind, Timers } from '../../job/contract/context.ts';

/**
 * The header on repartition records naming the task that wrote them: the reader keeps a
 * watermark lane per writing task, so one lagging upstream task holds its watermark back (as
 * Flink's per-channel watermarks do) instead of having its records called late.
 */
export const ORIGIN_HEADER = 'eddy.origin.task';

/**
 * The header of a watermark marker on a repartition topic (no key, no value): the writing task
 * will send nothing more on this topic below this event time (ms), unless late. Readers advance
 * the writer's lane with it and hand it to no actor.
 */
export const WATERMARK_HEADER = 'eddy.watermark';

/** The headers of task `task`'s watermark marker at `watermarkMs`. */
export function watermarkMarkerHeaders(task: number, watermarkMs: number): Record<string, string> {
  return { [WATERMARK_HEADER]: String(watermarkMs), [ORIGIN_HEADER]: String(task) };
}

/** The header on sink records holding the event time (ms since the epoch) they were emitted at. */
export const EVENT_TIME_HEADER = 'eddy.event.time';

const COUNTER_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,99}$/;

/** What a call asked for, in order. */
export type TimerChange = { op: 'add' | 'cancel'; timer: StoredTimer };

/** Fixed facts of a call. */
export type CallFacts = {
  task: number;
  actor: string;
  key: string;
  record?: RecordMeta;
  watermark: number;
  /** Event time of the record or timer handled. */
  eventTime: number;
  nowMs: number;
  /** Sink names of the job. */
  sinks: ReadonlySet<string>;
  /** Names of the job's repartition topics: their records say which task wrote them. */
  repartitions: ReadonlySet<string>;
  /** Whether the actor has `onTimer` (timers need it). */
  hasOnTimer: boolean;
  /** Names of the job's broadcast topics: an output to one is copied to each of `taskCount` partitions. */
  broadcasts: ReadonlySet<string>;
  /** The job's task count (the partitions of its repartition topics); 0 when not known. */
  taskCount: number;
  /** The actor's task state, when it declares one. */
  taskState?: { value: unknown };
};

export class CallContext implements ActorContext {
  readonly outputs: OutputRecord[] = [];
  /** Counter increments of the call, by counter name. */
  readonly counts: Record<string, number> = {};
  readonly timerChanges: TimerChange[] = [];
  readonly task: number;
  readonly actor: string;
  readonly key: string;
  readonly record?: RecordMeta;
  readonly watermark: number;
  readonly eventTime: number;
  readonly timers: Timers;
  /** The task state as the call leaves it: replaced by setTaskState, or the live object. */
  private taskStateValue: unknown;

  constructor(private readonly facts: CallFacts) {
    this.taskStateValue = facts.taskState?.value;
    ({ task: this.task, actor: this.actor, key: this.key, watermark: this.watermark, eventTime: this.eventTime } = facts);
    if (facts.record !== undefined) this.record = facts.record;
    this.timers = {
      atEventTime: (timestampMs, tag = '') => this.changeTimer('add', 'event-time', timestampMs, tag),
      atProcessingTime: (timestampMs, tag = '') => this.changeTimer('add', 'processing-time', timestampMs, tag),
      cancel: (kind, timestampMs, tag = '') => this.changeTimer('cancel', kind, timestampMs, tag),
    };
  }

  emit(sink: string, key: string | null, value: unknown, options: EmitOptions = {}): void {
    const { sinks } = this.facts;
    if (!sinks.has(sink)) throw new Error(`emit to unknown sink '${sink}' (sinks: ${[...sinks].join(', ') || 'none'})`);
    if (key !== null && typeof key !== 'string') throw new TypeError(`emit key must be a string or null, got a ${typeof key}`);
    const { timestamp } = options;
    if (timestamp !== undefined && !isKafkaTimestamp(timestamp)) throw new RangeError(`emit timestamp must be an integer ms ≥ 0, got ${timestamp}`);
    if (options.eventTime !== undefined && !isKafkaTimestamp(options.eventTime)) throw new RangeError(`emit eventTime must be an integer ms ≥ 0, got ${options.eventTime}`);
    const output: OutputRecord = { sink, key, value: encodeValue(value) };
    const eventTime = options.eventTime ?? (isKafkaTimestamp(this.eventTime) ? this.eventTime : undefined);
    if (this.facts.repartitions.has(sink)) {
      // Event time rides as the Kafka timestamp (Eddy's own topics keep records forever, so an
      // old event time cannot make time-based retention delete them before they are read).
      output.headers = { [ORIGIN_HEADER]: String(this.task) };
      const stamped = timestamp ?? eventTime;
      if (stamped !== undefined) output.timestamp = stamped;
    } else {
      // A sink's Kafka timestamp is the time of writing, as Flink's Kafka sink writes by default:
      // an event time of last year would have the topic's retention delete the record at once.
      if (timestamp !== undefined) output.timestamp = timestamp;
      if (eventTime !== undefined) output.headers = { [EVENT_TIME_HEADER]: String(eventTime) };
    }
    if (!this.facts.broadcasts.has(sink)) {
      this.outputs.push(output);
      return;
    }
    if (this.facts.taskCount < 1) throw new Error(`emit to broadcast topic '${sink}' needs the job's task count, which this task was not given`);
    for (let partition = 0; partition < this.facts.taskCount; partition++) this.outputs.push({ ...output, partition });
  }

  now(): number {
    return this.facts.nowMs;
  }

  /** Set by clearState: the key's state goes back to initial() when the call ends. */
  cleared = false;

  clearState(): void {
    this.cleared = true;
  }

  get taskState(): unknown {
    return this.taskStateValue;
  }

  setTaskState(value: unknown): void {
    if (this.facts.taskState === undefined) throw new Error(`actor '${this.actor}' declares no taskState`);
    this.taskStateValue = value;
  }

  count(name: string, by = 1): void {
    if (typeof name !== 'string' || !COUNTER_NAME.test(name)) throw new TypeError(`counter name must be 1-100 characters from [A-Za-z0-9_.:-] starting with a letter or _, got ${JSON.stringify(name)}`);
    if (!Number.isFinite(by) || by < 0) throw new RangeError(`count: by must be a finite number ≥ 0, got ${by}`);
    this.counts[name] = (this.counts[name] ?? 0) + by;
  }

  private changeTimer(op: TimerChange['op'], kind: TimerKind, timestampMs: number, tag: string): void {
    if (op === 'add' && !this.facts.hasOnTimer) throw new Error(`actor '${this.actor}' registers a timer but has no onTimer`);
    if (kind !== 'event-time' && kind !== 'processing-time') throw new TypeError(`unknown timer kind '${String(kind)}'`);
    if (!Number.isSafeInteger(timestampMs) || timestampMs < 0 || timestampMs > TIMER_TS_MAX) {
      throw new RangeError(`timer timestamp must be an integer ms in [0, ${TIMER_TS_MAX}], got ${timestampMs}`);
    }
    if (typeof tag !== 'string') throw new TypeError(`timer tag must be a string, got a ${typeof tag}`);
    this.timerChanges.push({ op, timer: { kind, timestampMs, actor: this.actor, key: this.key, tag } });
  }
}

function encodeValue(value: unknown): string | null {
  if (value === null || typeof value === 'string') return value;
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new TypeError(`emit value must be a string, null or JSON-serialisable, got a ${typeof value}`);
  return json;
}

function isKafkaTimestamp(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 0;
}

/**
 * Runs job code for one actor key: activates the actor, calls the handler with a fresh
 * CallContext, then either commits the new state and the call's effects (emits, timer changes)
 * or, when the handler throws, rolls the state back and drops the effects. Failures of job code
 * come out as UserCodeError; anything else (a store failure) is Eddy's and propagates.
 */
import type { StoredTimer } from '../../state/store-keys.ts';
import type { ActorContext, RecordMeta } from '../../job/contract/context.ts';
import { EVERY_KEY, type JobDefinition, type KeyedActor } from '../../job/contract/job.ts';
import type { OutputRecord } from '../thread-protocol.ts';
import type { ActorCache } from './actor-cache.ts';
import { CallContext } from './call-context.ts';
import type { TimerQueue } from './timer-queue.ts';
import { UserCodeError, stateJson, userCode } from './user-code-error.ts';
import type { ActorWatermarks } from './watermark-tracker.ts';

/** What the invoker works with; owned by the TaskRuntime. */
export type InvokerDeps = {
  job: JobDefinition;
  task: number;
  /** The job's task count: broadcast outputs go to that many partitions (0: unknown). */
  taskCount: number;
  cache: ActorCache;
  timers: TimerQueue;
  watermark: ActorWatermarks;
};

type Handler = (state: unknown, ctx: ActorContext) => unknown;

/** The store key of an actor's task state (keys starting with NUL are reserved). */
const TASK_STATE_KEY = '\u0000task';

/** Where a successful call's outputs (and counter increments) go: the request's Emission, or a test's collector. */
export type OutputSink = { push(...outputs: OutputRecord[]): unknown; count?(counts: Readonly<Record<string, number>>): void };

export class ActorInvoker {
  private readonly sinks: ReadonlySet<string>;

  private readonly repartitions: ReadonlySet<string>;
  private readonly broadcasts: ReadonlySet<string>;
  /** Per repartition sink, the actors that emitted into it since the task opened. */
  readonly emitters = new Map<string, Set<string>>();

  constructor(private readonly deps: InvokerDeps) {
    this.sinks = new Set(Object.keys(deps.job.sinks));
    this.repartitions = new Set(Object.entries(deps.job.sinks).flatMap(([name, sink]) => (sink.kind === 'kafka' && sink.internal === true ? [name] : [])));
    this.broadcasts = new Set(Object.entries(deps.job.sinks).flatMap(([name, sink]) => (sink.kind === 'kafka' && sink.broadcast === true ? [name] : [])));
  }

  /**
   * Hands a decoded record of `source` to actor `name`, appending its emits to `outputs`. `lane`
   * is the watermark lane the record advances: the source, or for a repartition record the
   * source and the task that wrote it.
   * @throws UserCodeError when `key()`, `eventTime()`, `initial()` or `onRecord` fails
   */
  async deliver(name: string, source: string, lane: string, value: unknown, meta: RecordMeta, nowMs: number, outputs: OutputSink): Promise<void> {
    const actor = this.actor(name);
    // An actor of several sources gets the tagged union { source, value } (contract: Tagged).
    const input = actor.from.length > 1 ? { source, value } : value;
    const key = userCode('key()', () => actor.key(input, meta));
    if (typeof key !== 'string') throw new UserCodeError('key()', new TypeError(`returned a ${typeof key}, expected a string`));
    const eventMs = actor.eventTime === undefined ? meta.timestamp : userCode('eventTime()', () => actor.eventTime?.(input, meta));
    if (typeof eventMs !== 'number' || !Number.isFinite(eventMs)) {
      throw new UserCodeError('eventTime()', new TypeError(`returned ${String(eventMs)}, expected finite ms`));
    }
    // Broadcast records are control records: they neither move nor hold the watermark.
    if (!this.broadcasts.has(source)) this.deps.watermark.observe(name, lane, eventMs);
    const handler: Handler = (state, ctx) => actor.onRecord(input, state, ctx);
    if (key !== EVERY_KEY) {
      if (key.startsWith('\u0000')) throw new UserCodeError('key()', new RangeError('keys starting with NUL are reserved (EVERY_KEY hands a record to every key)'));
      await this.call(actor, name, key, meta, Math.floor(eventMs), nowMs, handler, outputs);
      return;
    }
    // Every key in key order; a key whose handler throws keeps its state, the others go on, and
    // the record is dead-lettered naming the keys that failed.
    const failed: string[] = [];
    for (const each of await this.deps.cache.keysOf(name)) {
      if (each.startsWith('\u0000')) continue;
      try {
        await this.call(actor, name, each, meta, Math.floor(eventMs), nowMs, handler, outputs);
      } catch (thrown) {
        if (!(thrown instanceof UserCodeError)) throw thrown;
        failed.push(`${JSON.stringify(each)}: ${thrown.message}`);
      }
    }
    if (failed.length > 0) throw new UserCodeError('handler', new Error(`for every key, ${failed.length} failed: ${failed.slice(0, 5).join('; ')}`));
  }

  /**
   * Fires a timer (already removed from the queue), appending its emits to `outputs`.
   * @throws UserCodeError when the actor is gone from the job, or `onTimer` fails
   */
  async fire(timer: StoredTimer, nowMs: number, outputs: OutputSink): Promise<void> {
    const actor = this.deps.job.actors[timer.actor];
    if (actor?.onTimer === undefined) {
      throw new UserCodeError('onTimer', new Error(`actor '${timer.actor}' has no onTimer in this job (any more)`));
    }
    const { kind, timestampMs, tag } = timer;
    const eventTime = kind === 'event-time' ? timestampMs : Math.floor(nowMs);
    await this.call(actor, timer.actor, timer.key, undefined, eventTime, nowMs, (state, ctx) => actor.onTimer?.({ kind, timestampMs, tag }, state, ctx), outputs);
  }

  private actor(name: string): KeyedActor {
    const actor = this.deps.job.actors[name];
    if (actor === undefined) throw new Error(`no actor '${name}' in job '${this.deps.job.name}'`);
    return actor;
  }

  private async call(actor: KeyedActor, name: string, key: string, record: RecordMeta | undefined, eventTime: number, nowMs: number, handler: Handler, outputs: OutputSink): Promise<void> {
    const { cache, timers, watermark, task, taskCount } = this.deps;
    const entry = await cache.activate(name, key, () => actor.initial(), nowMs);
    const shared = actor.taskState === undefined ? undefined : await cache.activate(name, TASK_STATE_KEY, () => actor.taskState?.(), nowMs);
    const ctx = new CallContext({
      task, actor: name, key, record, watermark: watermark.of(name), eventTime, nowMs,
      sinks: this.sinks, repartitions: this.repartitions, broadcasts: this.broadcasts, taskCount, hasOnTimer: actor.onTimer !== undefined,
      ...(shared === undefined ? {} : { taskState: { value: shared.state } }),
    });
    let next: unknown;
    let json: string;
    let sharedJson: string | undefined;
    try {
      const returned = userCode('handler', () => handler(entry.state, ctx));
      if (isThenable(returned)) throw new UserCodeError('handler', new TypeError('handlers must be synchronous, but it returned a Promise'));
      next = returned === undefined ? entry.state : returned;
      if (ctx.cleared) next = userCode('initial()', () => actor.initial());
      json = ctx.cleared ? entry.initialJson : stateJson(next);
      if (shared !== undefined) sharedJson = stateJson(ctx.taskState);
    } catch (thrown) {
      cache.rollBack(entry);
      if (shared !== undefined) cache.rollBack(shared);
      throw thrown;
    }
    cache.update(entry, next, json, nowMs);
    if (shared !== undefined && sharedJson !== undefined) cache.update(shared, ctx.taskState, sharedJson, nowMs);
    outputs.push(...ctx.outputs);
    outputs.count?.(ctx.counts);
    for (const output of ctx.outputs) {
      if (!this.repartitions.has(output.sink)) continue;
      const actors = this.emitters.get(output.sink) ?? new Set<string>();
      this.emitters.set(output.sink, actors.add(name));
    }
    for (const { op, timer } of ctx.timerChanges) {
      if (op === 'add') timers.add(timer);
      else timers.remove(timer);
    }
  }
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

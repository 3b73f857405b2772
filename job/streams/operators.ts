/**
 * The stateful operators of a streams job, each a {@link Stage} (one keyed actor): a CDC table,
 * a pass-through that lets a raw stream be re-keyed, joins, aggregates that retract, windowed and
 * session aggregates, de-duplication, and `process` for anything else. The fluent API in
 * ./builder.ts wires them; this file says what each does to one key's state.
 */
import { createHash } from 'node:crypto';
import type { Change } from '../contract/change.ts';
import type { ActorContext, Timer } from '../contract/context.ts';
import type { DebeziumChange } from '../formats/debezium.ts';
import { changesBetween, isAddition } from '../changes/change.ts';
import { applyDebezium, changePosition } from '../changes/table.ts';
import { EVERY_KEY } from '../contract/job.ts';
import { aggregate as combineAggregates, type Aggregator } from '../changes/aggregates.ts';
import { addToSession, isClosed, isoUtc, lateReason, type Session, type Window } from '../changes/windows.ts';
import type { Input, Item, Outlet, Payload, Stage } from './stage.ts';

/** What a late output receives: which operator refused the record, its key, when it happened and why. */
export type LateRecord = { output: string; key: string; event_time: string; reason: string; record?: unknown };

/** The source of a record, for errors: `topic[partition]@offset`. */
function where(ctx: ActorContext): string {
  return ctx.record === undefined ? 'record' : `${ctx.record.topic}[${ctx.record.partition}]@${ctx.record.offset}`;
}

function late(ctx: ActorContext, sink: string | undefined, record: LateRecord): void {
  ctx.count(`late.${record.output}`);
  if (sink !== undefined) ctx.emit(sink, record.key, record);
}

function stage(name: string, inputs: Input[], handlers: Omit<Stage, 'name' | 'inputs' | 'outlets'>): Stage {
  return { name, inputs, outlets: [] as Outlet[], ...handlers };
}

/** What a table's truncate broadcast carries: the truncate's source position, and which step. */
type TruncateMarker = { position: string; step: 'mark' | 'retract' };

/**
 * A Debezium source as a table: the current row per primary key, its changes as output (see
 * applyDebezium).
 *
 * A truncate (`op: t`) has no key, so it reaches one task, while the rows live in every task. That
 * task broadcasts it (topic `<table>-truncate`, input 1) to every task, which then (1) records the
 * truncate's source position in its task state and (2) retracts, key by key (`EVERY_KEY`), every
 * row whose last change is older. A change that arrives later but is older than the truncate (its
 * partition lags) is dropped, so every row ends as the query over the table would have it,
 * whichever partition each record came from. Positions: see changePosition.
 */
export function tableStage(name: string, source: string, truncates: string, key: string, eventTime?: (change: DebeziumChange<object>) => number): Stage {
  type State = { row: object | null; position?: string };
  type Task = { truncatedAt: string | null };
  const keyOf = (p: Payload) => {
    const change = p.v as DebeziumChange<Record<string, unknown>>;
    return change.op === 't' ? '' : String((change.after ?? change.before)?.[key]);
  };
  const direct = { key: keyOf, ...(eventTime === undefined ? {} : { eventTime: (v: unknown) => eventTime(v as DebeziumChange<object>) }) };
  return stage(name, [{ source, direct }, { source: truncates }], {
    initial: (): State => ({ row: null }),
    taskState: (): Task => ({ truncatedAt: null }),
    onRecord(input, { v }, s, ctx, out) {
      const state = s as State;
      const task = ctx.taskState as Task;
      if (input === 1) {
        const { position, step } = v as TruncateMarker;
        if (step === 'mark') {
          if (task.truncatedAt === null || position > task.truncatedAt) ctx.setTaskState({ truncatedAt: position });
          return state;
        }
        if (state.row === null || (state.position !== undefined && state.position > position)) return state; // changed after the truncate
        const change = { op: 'delete' as const, row: state.row, ts: ctx.eventTime };
        out.push({ key: ctx.key, value: change, ts: change.ts });
        return { row: null };
      }
      const change = v as DebeziumChange<object>;
      const position = changePosition(change);
      if (change.op === 't') {
        for (const step of ['mark', 'retract'] as const) ctx.emit(truncates, step === 'mark' ? '' : EVERY_KEY, { k: '', v: { position, step } satisfies TruncateMarker }, { eventTime: ctx.eventTime });
        return state;
      }
      if (task.truncatedAt !== null && position <= task.truncatedAt) {
        ctx.count(`truncated.${name}`); // older than a truncate already applied: the row is gone
        return state;
      }
      const { row, changes } = applyDebezium(state.row, change, ctx.eventTime, where(ctx));
      for (const c of changes) out.push({ key: ctx.key, value: c, ts: c.ts });
      return row === null ? { row: null } : { row, position };
    },
  });
}

/** Forwards a raw source's records as they are, so steps and a re-key can follow. Keeps no state. */
export function passStage(name: string, source: string, eventTime?: (value: unknown) => number): Stage {
  return stage(name, [{ source, direct: { key: () => '', ...(eventTime === undefined ? {} : { eventTime }) } }], {
    initial: () => null,
    onRecord(_input, { k, v }, _state, ctx, out) {
      out.push({ key: k, value: v, ts: ctx.eventTime });
    },
  });
}

/** `inner` or `left` (keep left rows without a match, joined with null). */
export type JoinKind = 'inner' | 'left';

/** What identifies a version of a row between the two halves of a foreign-key join. */
function versionOf(row: unknown): string {
  return createHash('sha256').update(JSON.stringify(row)).digest('base64').slice(0, 16);
}

/**
 * A table-table join on the key both sides share: per key, the two current rows and the joined
 * result, emitted as the changes between the old result and the new one. Both sides must arrive
 * in order per key, as every table of a streams job does. An `update-before` waits for its
 * `update-after`, which follows it.
 *
 * Input 0 is the left side, input 1 the right side; payloads are `{k: key, v: change}`.
 */
export function joinStage(name: string, inputs: [Input, Input], combine: (left: unknown, right: unknown, key: string) => unknown, kind: JoinKind): Stage {
  type State = { l: unknown; r: unknown };
  const joined = (s: State, key: string) => (s.l === null || (s.r === null && kind === 'inner') ? null : combine(s.l, s.r, key));
  return stage(name, inputs, {
    initial: (): State => ({ l: null, r: null }),
    onRecord(input, { v }, s, ctx, out) {
      const state = s as State;
      const change = v as Change<unknown>;
      if (change.op === 'update-before') return state;
      const row = change.op === 'delete' ? null : change.row;
      const next: State = input === 0 ? { l: row, r: state.r } : { l: state.l, r: row };
      for (const c of changesBetween(joined(state, ctx.key), joined(next, ctx.key), change.ts)) out.push({ key: ctx.key, value: c, ts: c.ts });
      return next;
    },
  });
}

/**
 * The right half of a foreign-key join, keyed by the foreign key, as Kafka Streams' (KIP-213):
 * the right row and the left keys that point at it (subscriptions, each with the version of its
 * left row). A subscription, and every change of the right row, is answered to the left key with
 * the version it answers and the right row. Input 0: the left rows by foreign key (`{k: left
 * key, v: change}`); input 1: the right table's changes.
 */
export function foreignKeyStage(name: string, inputs: [Input, Input]): Stage {
  type State = { one: unknown; subs: Record<string, string> };
  return stage(name, inputs, {
    initial: (): State => ({ one: null, subs: {} }),
    onRecord(input, { k, v }, s, _ctx, out) {
      const state = s as State;
      const change = v as Change<unknown>;
      const answer = (key: string, version: string, one: unknown) => out.push({ key, value: { version, one }, ts: change.ts });
      if (input === 0) {
        const version = versionOf(change.row);
        const subs = { ...state.subs };
        if (isAddition(change.op)) {
          subs[k] = version;
          answer(k, version, state.one);
        } else if (subs[k] === version) delete subs[k];
        return state.one === null && Object.keys(subs).length === 0 ? { one: null, subs: {} } : { one: state.one, subs };
      }
      if (change.op === 'update-before') return state; // its update-after follows
      const one = change.op === 'delete' ? null : change.row;
      if (JSON.stringify(one) === JSON.stringify(state.one)) return state; // nothing to answer
      for (const [key, version] of Object.entries(state.subs)) answer(key, version, one);
      return one === null && Object.keys(state.subs).length === 0 ? { one: null, subs: {} } : { one, subs: state.subs };
    },
  });
}

/**
 * The left half of a foreign-key join, keyed by the left key: the current left row and the
 * result emitted for it. It reads one topic that carries both the left rows (`{row: change}`)
 * and the right half's answers (`{answer}`): an answer is written only after the row it answers
 * was committed, so in that one partition it always comes after its row. An answer counts only
 * if it answers the current version of the row; older answers (the row changed, or moved to
 * another foreign key, since) are dropped. So results leave in order per left key from one task,
 * and a table of them (an upsert sink, a join) is never left with a stale row, though two
 * foreign-key partitions answer it.
 */
export function resolveStage(name: string, input: Input, foreignKey: (row: unknown) => string | null, combine: (left: unknown, right: unknown, key: string) => unknown, kind: JoinKind): Stage {
  type State = { row: unknown; version: string | null; out: unknown };
  const result = (row: unknown, one: unknown, key: string) => (one === null && kind === 'inner' ? null : combine(row, one, key));
  return stage(name, [input], {
    initial: (): State => ({ row: null, version: null, out: null }),
    onRecord(_input, { v }, s, ctx, out) {
      const state = s as State;
      const emit = (next: unknown, ts: number) => {
        for (const c of changesBetween(state.out, next, ts)) out.push({ key: ctx.key, value: c, ts: c.ts });
      };
      const message = v as { row: Change<unknown> } | { answer: { version: string; one: unknown } };
      if ('answer' in message) {
        const { version, one } = message.answer;
        if (state.row === null || version !== state.version) return state; // answers an older row
        const next = result(state.row, one, ctx.key);
        emit(next, ctx.eventTime);
        return { ...state, out: next };
      }
      const change = message.row;
      if (change.op === 'update-before') return state; // its update-after follows
      if (change.op === 'delete') {
        emit(null, change.ts);
        return { row: null, version: null, out: null };
      }
      if (foreignKey(change.row) !== null) return { row: change.row, version: versionOf(change.row), out: state.out }; // its answer brings the result
      const next = result(change.row, null, ctx.key);
      emit(next, change.ts);
      return { row: change.row, version: versionOf(change.row), out: next };
    },
  });
}

/**
 * A stream-table join (Kafka Streams' KStream-KTable join), kept per join key: the table's
 * current row; each stream record (input 0) leaves joined with it, and a later change of the row
 * (input 1) does not revisit earlier results. Stream and table arrive through two topics, so a
 * record joins the row as this task has it when the record is handled, as in Kafka Streams.
 */
export function streamTableStage(name: string, inputs: [Input, Input], combine: (value: unknown, row: unknown, key: string) => unknown, kind: JoinKind): Stage {
  return stage(name, inputs, {
    initial: () => ({ row: null }),
    onRecord(input, { v }, s, ctx, out) {
      const state = s as { row: unknown };
      if (input === 0) {
        if (state.row !== null || kind === 'left') out.push({ key: ctx.key, value: combine(v, state.row, ctx.key), ts: ctx.eventTime });
        return state;
      }
      const change = v as Change<unknown>;
      if (change.op === 'update-before') return state; // its update-after follows
      return { row: change.op === 'delete' ? null : change.row };
    },
  });
}

/** When a group closes for good (event time, ms), and where changes after that go. */
export type Closing = { closesAt: (group: string) => number; late?: string };

/**
 * Aggregates that retract, per group: each change adds or removes its row, and the group's
 * result goes out as a change (an update, or a delete when the group emptied), so a table of
 * results always equals the aggregate over the current rows. With {@link Closing}, a group's
 * state is deleted once the watermark passes `closesAt`, and later changes go to the late output.
 */
export function aggregateStage(name: string, input: Input, aggregators: Record<string, Aggregator<unknown, unknown, unknown>>, result: (r: Record<string, unknown>, group: string) => unknown, closing?: Closing): Stage {
  const agg = combineAggregates(aggregators);
  type State = ReturnType<typeof agg.init>;
  const resultOf = (state: State, group: string) => (agg.isEmpty(state) ? null : result(agg.result(state), group));
  return stage(name, [input], {
    initial: () => agg.init(),
    onRecord(_input, { k, v }, s, ctx, out) {
      const state = s as State;
      const change = v as Change<unknown>;
      if (closing !== undefined) {
        const closesAt = closing.closesAt(ctx.key);
        if (isClosed(closesAt, ctx.watermark)) {
          const reason = `${k} changed after group ${ctx.key} closed at ${isoUtc(closesAt)}: the watermark is ${isoUtc(ctx.watermark)}`;
          late(ctx, closing.late, { output: name, key: ctx.key, event_time: isoUtc(ctx.eventTime), reason });
          return state;
        }
        ctx.timers.atEventTime(closesAt);
      }
      const next = agg.apply(state, change);
      for (const c of changesBetween(resultOf(state, ctx.key), resultOf(next, ctx.key), change.ts)) out.push({ key: ctx.key, value: c, ts: c.ts });
      return agg.isEmpty(next) ? agg.init() : next;
    },
    ...(closing === undefined ? {} : { onTimer: () => agg.init() }), // closed: the state is deleted, the result stays
  });
}

/** A fold over a window's records: start, add one record, and what the window's result is. */
export interface WindowAggregator<V, A, Out> {
  init(): A;
  add(acc: A, value: V): A;
  result(acc: A, window: { key: string; start: number; end: number }): Out;
}

/** Window options: records later than `allowedLatenessMs` after the window's end go to `late`. */
export type WindowOptions = { allowedLatenessMs?: number; late?: string; emit?: 'close' | 'change' };

/**
 * Tumbling or hopping windows per group (the actor key is `group@window start`): records fold
 * into their window until the watermark passes its end plus the allowed lateness; then the
 * result goes out (once, or on every change with `emit: 'change'`) and the window's state is
 * deleted. The payload carries its window as `w`.
 */
export function windowStage(name: string, input: Input, fold: WindowAggregator<unknown, unknown, unknown>, options: WindowOptions): Stage {
  const lateness = options.allowedLatenessMs ?? 0;
  type State = { w: [number, number] | null; group: string; acc: unknown };
  const resultOf = (s: State) => fold.result(s.acc, { key: s.group, start: s.w?.[0] ?? 0, end: s.w?.[1] ?? 0 });
  return stage(name, [input], {
    initial: (): State => ({ w: null, group: '', acc: fold.init() }),
    onRecord(_input, payload, s, ctx, out) {
      const state = s as State;
      const [start, end] = (payload as Payload & { w: [number, number] }).w;
      if (isClosed(end, ctx.watermark, lateness)) {
        late(ctx, options.late, { output: name, key: payload.k, event_time: isoUtc(ctx.eventTime), reason: lateReason(ctx.eventTime, { start, end }, ctx.watermark, lateness), record: payload.v });
        return state;
      }
      const next: State = { w: [start, end], group: payload.k, acc: fold.add(state.acc, payload.v) };
      ctx.timers.atEventTime(end + lateness);
      if (options.emit === 'change') out.push({ key: ctx.key, value: resultOf(next), ts: ctx.eventTime });
      return next;
    },
    onTimer(_timer, s, ctx, out) {
      const state = s as State;
      if (state.w !== null && options.emit !== 'change') out.push({ key: ctx.key, value: resultOf(state), ts: state.w[1] - 1 });
      return { w: null, group: '', acc: fold.init() };
    },
  });
}

/** A fold over a session: each record's own value, how two sessions merge, and the result. */
export interface SessionAggregator<V, A, Out> {
  of(value: V): A;
  merge(a: A, b: A): A;
  result(acc: A, session: { key: string; start: number; end: number }): Out;
}

/**
 * Session windows per group with an inactivity gap (event time), merged as records bridge them;
 * a session's result goes out once the watermark passes its end plus the allowed lateness. A
 * record that would open a session already closed goes to the late output.
 */
export function sessionStage(name: string, input: Input, gapMs: number, fold: SessionAggregator<unknown, unknown, unknown>, options: WindowOptions): Stage {
  const lateness = options.allowedLatenessMs ?? 0;
  type State = { sessions: Session<unknown>[] };
  return stage(name, [input], {
    initial: (): State => ({ sessions: [] }),
    onRecord(_input, { v }, s, ctx, out) {
      const state = s as State;
      const ts = ctx.eventTime;
      const own = { start: ts, end: ts + gapMs };
      const joinsOpen = state.sessions.some((x) => x.start <= own.end && own.start <= x.end);
      if (!joinsOpen && isClosed(own.end, ctx.watermark, lateness)) {
        late(ctx, options.late, { output: name, key: ctx.key, event_time: isoUtc(ts), reason: lateReason(ts, own, ctx.watermark, lateness), record: v });
        return state;
      }
      const { sessions, session, merged } = addToSession(state.sessions, ts, gapMs, fold.of(v), (a, b) => fold.merge(a, b));
      for (const old of merged) ctx.timers.cancel('event-time', old.end + lateness);
      ctx.timers.atEventTime(session.end + lateness);
      if (options.emit === 'change') out.push({ key: ctx.key, value: fold.result(session.value, { key: ctx.key, ...session }), ts });
      return { sessions };
    },
    onTimer(timer, s, ctx, out) {
      const state = s as State;
      const closing = state.sessions.filter((x) => x.end + lateness <= timer.timestampMs);
      if (options.emit !== 'change') for (const x of closing) out.push({ key: ctx.key, value: fold.result(x.value, { key: ctx.key, start: x.start, end: x.end }), ts: x.end - 1 });
      return { sessions: state.sessions.filter((x) => !closing.includes(x)) };
    },
  });
}

/** The first record of each key passes; repeats within `withinMs` of event time are counted (`duplicates`) and dropped. */
export function distinctStage(name: string, input: Input, withinMs: number): Stage {
  return stage(name, [input], {
    initial: () => ({ seen: false }),
    onRecord(_input, { v }, s, ctx, out) {
      if ((s as { seen: boolean }).seen) {
        ctx.count('duplicates');
        return s;
      }
      out.push({ key: ctx.key, value: v, ts: ctx.eventTime });
      ctx.timers.atEventTime(ctx.eventTime + withinMs); // then the key is forgotten (state TTL)
      return { seen: true };
    },
    onTimer: () => ({ seen: false }),
  });
}

/** Emits a record from a `process` handler: key, value and event time (default the input's). */
export type Emit<Out> = (key: string, value: Out, ts?: number) => void;

/** A keyed process function over a stream: the escape hatch, as Kafka Streams' `process()`. */
export interface ProcessSpec<V, S, Out> {
  initial(): S;
  onRecord(value: V, state: S, ctx: ActorContext, emit: Emit<Out>): S | void;
  onTimer?(timer: Timer, state: S, ctx: ActorContext, emit: Emit<Out>): S | void;
}

/** A keyed process function as a stage: `spec`'s handlers with an `emit` that sends records on to the stage's outlets. */
export function processStage(name: string, input: Input, spec: ProcessSpec<unknown, unknown, unknown>): Stage {
  const emitter = (ctx: ActorContext, out: Item[]) => (key: string, value: unknown, ts = ctx.eventTime) => out.push({ key, value, ts });
  const onTimer = spec.onTimer?.bind(spec);
  return stage(name, [input], {
    initial: () => spec.initial(),
    onRecord: (_input, { v }, state, ctx, out) => {
      const next = spec.onRecord(v, state, ctx, emitter(ctx, out));
      return next === undefined ? state : next;
    },
    ...(onTimer === undefined
      ? {}
      : {
          onTimer: (timer: Timer, state: unknown, ctx: ActorContext, out: Item[]) => {
            const next = onTimer(timer, state, ctx, emitter(ctx, out));
            return next === undefined ? state : next;
          },
        }),
  });
}

export type { Window };

/**
 * What a streams job (./builder.ts) compiles to: *stages*, one keyed actor each, and the
 * *outlets* that carry a stage's output to a sink or, re-keyed through a repartition topic, to the
 * next stage. Stateless operators (filter, map, ...) are *steps* on an outlet: they run in the
 * task of the stage that produced the records, before they are re-keyed, as Kafka Streams fuses
 * stateless processors into the upstream sub-topology.
 *
 * A stage handles one *payload* at a time: `{k, v}`, the key the upstream node gave the record
 * and its value (a {@link Change} for tables). That is what repartition topics carry; a stage
 * that reads an external source directly gets `{k: <Kafka key>, v: <decoded value>}`.
 */
import type { ActorContext, RecordMeta, Timer } from '../contract/context.ts';
import type { Change } from '../contract/change.ts';
import type { KeyedActor } from '../contract/job.ts';
import { keyedActor } from '../builders/keyed-actor.ts';
import { upsertValue } from '../changes/change.ts';

/** One record between operators: its key, its value (a `Change` on tables), its event time. */
export type Item = { key: string; value: unknown; ts: number };

/** A record as a stage receives it. */
export type Payload = { k: string; v: unknown };

/** A stateless operator: the records one input turned into, in order, to what they become. */
export type Step = (items: Item[], ctx: ActorContext) => Item[];

/** Where an outlet's records go: to a sink as they are, or re-keyed into a stage's repartition topic. */
export type Target =
  | { kind: 'sink'; sink: string; table: boolean }
  | {
      kind: 'repartition';
      topic: string;
      /** The keys (and payloads) an item is routed under; none drops it. */
      route: (item: Item) => [key: string, payload: Payload][];
    };

export type Outlet = { steps: readonly Step[]; target: Target };

/** One input of a stage: a repartition topic, or an external source read directly (then keyed by `key`). */
export type Input = { source: string; direct?: { key: (payload: Payload) => string; eventTime?: (value: unknown) => number } };

/** A stateful operator: one keyed actor. Handlers push what they produce onto `out`. */
export interface Stage {
  readonly name: string;
  readonly inputs: Input[];
  initial(): unknown;
  onRecord(input: number, payload: Payload, state: unknown, ctx: ActorContext, out: Item[]): unknown;
  onTimer?(timer: Timer, state: unknown, ctx: ActorContext, out: Item[]): unknown;
  /** The initial task state (see ActorHandlers.taskState), when the stage keeps one. */
  taskState?(): unknown;
  readonly outlets: Outlet[];
}

/** The keyed actor that runs `stage` and sends its output through its outlets. */
export function actorOf(stage: Stage): KeyedActor {
  const many = stage.inputs.length > 1;
  const unwrap = (record: unknown, meta: RecordMeta | undefined): [number, Payload] => {
    const [source, value] = many ? [(record as { source: string }).source, (record as { value: unknown }).value] : [stage.inputs[0]?.source, record];
    const index = many ? stage.inputs.findIndex((i) => i.source === source) : 0;
    const direct = stage.inputs[index]?.direct !== undefined;
    return [index, direct ? { k: meta?.key ?? '', v: value } : (value as Payload)];
  };
  const send = (out: Item[], ctx: ActorContext): void => {
    for (const { steps, target } of stage.outlets) {
      for (const item of steps.reduce((items, step) => step(items, ctx), out)) {
        if (target.kind === 'repartition') {
          for (const [key, payload] of target.route(item)) ctx.emit(target.topic, key, payload, { eventTime: item.ts });
        } else if (!target.table) ctx.emit(target.sink, item.key, item.value, { eventTime: item.ts });
        else {
          // On sinks, event time goes in a header: as the Kafka timestamp, an old one would have retention delete the record.
          const upsert = upsertValue(item.value as Change<unknown>);
          if (upsert !== undefined) ctx.emit(target.sink, item.key, upsert.value, { eventTime: item.ts });
        }
      }
    }
  };
  const directTimes = stage.inputs.some((i) => i.direct?.eventTime !== undefined);
  return keyedActor<unknown, unknown>({
    from: stage.inputs.map((i) => i.source),
    key(record, meta) {
      const [index, payload] = unwrap(record, meta);
      const direct = stage.inputs[index]?.direct;
      return direct === undefined ? (meta.key ?? '') : direct.key(payload);
    },
    initial: () => stage.initial(),
    ...(stage.taskState === undefined ? {} : { taskState: () => stage.taskState?.() }),
    onRecord(record, state, ctx) {
      const out: Item[] = [];
      const next = stage.onRecord(...unwrap(record, ctx.record), state, ctx, out);
      send(out, ctx);
      return next;
    },
    ...(stage.onTimer === undefined
      ? {}
      : {
          onTimer(timer: Timer, state: unknown, ctx: ActorContext) {
            const out: Item[] = [];
            const next = stage.onTimer?.(timer, state, ctx, out);
            send(out, ctx);
            return next;
          },
        }),
    ...(directTimes
      ? {
          eventTime(record: unknown, meta: RecordMeta) {
            const [index, payload] = unwrap(record, meta);
            const eventTime = stage.inputs[index]?.direct?.eventTime;
            return eventTime === undefined ? meta.timestamp : eventTime(payload.v);
          },
        }
      : {}),
  });
}

// ---- Steps on change streams -------------------------------------------------------------------

/**
 * Repairs update pairs after a filter: an `update-before` whose `update-after` was dropped is a
 * `delete`, an `update-after` whose `update-before` was dropped an `insert`, so an upsert sink
 * still gets its tombstone and a downstream join its addition.
 */
export function repairPairs(items: Item[]): Item[] {
  return items.map((item, i) => {
    const op = (item.value as Change<unknown>).op;
    const paired = (other: Item | undefined, want: string) => other !== undefined && other.key === item.key && (other.value as Change<unknown>).op === want;
    if (op === 'update-before' && !paired(items[i + 1], 'update-after')) return { ...item, value: { ...(item.value as Change<unknown>), op: 'delete' } };
    if (op === 'update-after' && !paired(items[i - 1], 'update-before')) return { ...item, value: { ...(item.value as Change<unknown>), op: 'insert' } };
    return item;
  });
}

/** Drops update pairs whose rows became equal (after a map), so unchanged results stay quiet. */
export function dropUnchanged(items: Item[]): Item[] {
  const kept: Item[] = [];
  for (let i = 0; i < items.length; i += 1) {
    const [item, next] = [items[i] as Item, items[i + 1]];
    const change = item.value as Change<unknown>;
    const after = next?.value as Change<unknown> | undefined;
    if (change.op === 'update-before' && next?.key === item.key && after?.op === 'update-after' && JSON.stringify(change.row) === JSON.stringify(after.row)) {
      i += 1;
      continue;
    }
    kept.push(item);
  }
  return kept;
}

/** The (before, after) rows of each key's change in `items`, in order. */
export function beforeAfter<Row>(items: Item[]): { key: string; before: Row | null; after: Row | null; ts: number }[] {
  const pairs: { key: string; before: Row | null; after: Row | null; ts: number }[] = [];
  for (let i = 0; i < items.length; i += 1) {
    const item = items[i] as Item;
    const change = item.value as Change<Row>;
    const next = items[i + 1];
    if (change.op === 'update-before' && next?.key === item.key && (next.value as Change<Row>).op === 'update-after') {
      pairs.push({ key: item.key, before: change.row, after: (next.value as Change<Row>).row, ts: change.ts });
      i += 1;
    } else if (change.op === 'insert' || change.op === 'update-after') pairs.push({ key: item.key, before: null, after: change.row, ts: change.ts });
    else pairs.push({ key: item.key, before: change.row, after: null, ts: change.ts });
  }
  return pairs;
}

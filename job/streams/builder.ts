/**
 * The streams DSL: tables and streams with operators, as Kafka Streams' StreamsBuilder, KTable
 * and KStream, compiled into an ordinary job (keyed actors and repartition topics) by
 * {@link streamsJob}. Every stateful operator is named (the name is its actor, and its state's
 * home across restarts); stateless ones run in the task that produced the records. Re-keying
 * (joins, groupBy) goes through repartition topics that Eddy creates, inside the task's
 * exactly-once transaction.
 *
 * ```ts
 * export default streamsJob({ name: 'shop', sources: { orders: kafkaSource('shop.public.orders', { format: debezium<Order>() }) },
 *   sinks: { perUser: kafkaSink('shop.orders_per_user', { upsert: true }) } }, (b) =>
 *   b.table('orders', 'order_id')
 *     .groupBy((o) => String(o.user_id))
 *     .aggregate('perUser', { orders: count(), spent: sum((o) => o.total_amount) })
 *     .to('perUser'));
 * ```
 */
import type { Change } from '../contract/change.ts';
import type { ActorContext } from '../contract/context.ts';
import type { JobDefinition, KafkaSource, Repartition, Sink, WatermarkOptions } from '../contract/job.ts';
import type { DebeziumChange } from '../formats/debezium.ts';
import type { Aggregator } from '../changes/aggregates.ts';
import type { Window } from '../changes/windows.ts';
import { defineJob } from '../builders/define-job.ts';
import { broadcast, repartition } from '../builders/kafka-connectors.ts';
import { isoUtc } from '../changes/windows.ts';
import {
  aggregateStage,
  distinctStage,
  foreignKeyStage,
  joinStage,
  resolveStage,
  passStage,
  processStage,
  sessionStage,
  streamTableStage,
  tableStage,
  windowStage,
  type JoinKind,
  type ProcessSpec,
  type SessionAggregator,
  type WindowAggregator,
  type WindowOptions,
} from './operators.ts';
import { actorOf, beforeAfter, dropUnchanged, repairPairs, type Input, type Item, type Payload, type Stage, type Step } from './stage.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any source value type; each is recovered by ValueOf
type Sources = Record<string, KafkaSource<any>>;
type ValueOf<S> = S extends KafkaSource<infer T> ? T : never;
type RowOf<S> = ValueOf<S> extends DebeziumChange<infer Row> ? Row : never;
type ResultOf<A> = A extends Aggregator<never, unknown, infer R> ? R : never;

/** What {@link streamsJob} takes besides the topology: the job's name, named sources and sinks, watermark settings. */
export interface StreamsJobSpec<S extends Sources, K extends Record<string, Sink>> {
  name: string;
  sources: S;
  sinks: K;
  watermark?: WatermarkOptions;
}

/**
 * Defines a job by its topology: `build` reads the sources as tables and streams and sends results
 * to the sinks, by name. Returns the same checked, frozen JobDefinition as `defineJob`.
 */
export function streamsJob<S extends Sources, K extends Record<string, Sink>>(spec: StreamsJobSpec<S, K>, build: (b: StreamsBuilder<S, keyof K & string>) => void): JobDefinition {
  const graph = new Graph();
  build(new StreamsBuilder<S, keyof K & string>(graph));
  return defineJob({
    name: spec.name,
    sources: spec.sources,
    sinks: spec.sinks,
    repartitions: Object.fromEntries(graph.repartitions),
    actors: Object.fromEntries(graph.stages.map((s) => [s.name, actorOf(s)])),
    ...(spec.watermark === undefined ? {} : { watermark: spec.watermark }),
  });
}

/** The stages and repartition topics a topology has made so far. */
class Graph {
  readonly stages: Stage[] = [];
  readonly repartitions = new Map<string, Repartition>();
  /** Sources read so far, as what: a source is one table or one stream, however often it is asked for. */
  readonly read = new Map<string, { as: 'table' | 'stream'; node: unknown; eventTime: unknown }>();

  add(stage: Stage): Stage {
    if (this.stages.some((s) => s.name === stage.name)) throw new Error(`streamsJob: two operators are named '${stage.name}'`);
    this.stages.push(stage);
    return stage;
  }

  /** A repartition topic into stage `to`, fed by `from`'s records through `route`. */
  connect(from: Origin, steps: readonly Step[], to: string, side: string, route: (item: Item) => [string, Payload][]): Input {
    const topic = `${to}-${side}`;
    this.repartitions.set(topic, repartition(to)); // one key per consuming stage: its inputs are co-partitioned
    this.stageOf(from).outlets.push({ steps, target: { kind: 'repartition', topic, route } });
    return { source: topic };
  }

  stageOf(origin: Origin): Stage {
    if ('stage' in origin) return origin.stage;
    origin.pass ??= this.add(passStage(`${origin.source}-pass`, origin.source, origin.eventTime));
    return origin.pass;
  }
}

/** Where a node's records come from: a stage's output, or a source not yet read by any stage. */
type Origin = { stage: Stage } | { source: string; eventTime?: (value: unknown) => number; pass?: Stage };

/** Records to re-group: where they come from, the steps on their way, and their new key (null: in no group). */
type Grouping<V, G extends string | null> = { graph: Graph; origin: Origin; steps: readonly Step[]; group: (value: V, key: string) => G };

/** Reads the job's sources as tables and streams. */
export class StreamsBuilder<S extends Sources, SinkName extends string> {
  constructor(private readonly graph: Graph) {}

  /**
   * A Debezium source as a table keyed by its primary key: creates, updates and deletes (with
   * the unchanged-TOAST placeholder filled in, see `applyDebezium`) as changes. The operator is
   * named after the source.
   */
  table<N extends keyof S & string>(source: N, key: keyof RowOf<S[N]> & string, options: { eventTime?: (change: DebeziumChange<RowOf<S[N]>>) => number } = {}): Table<RowOf<S[N]>, SinkName> {
    return this.once(source, 'table', options.eventTime, () => {
      const truncates = `${source}-truncate`;
      this.graph.repartitions.set(truncates, broadcast());
      const stage = this.graph.add(tableStage(source, source, truncates, key, options.eventTime as ((change: DebeziumChange<object>) => number) | undefined));
      return new Table<RowOf<S[N]>, SinkName>(this.graph, { stage }, []);
    });
  }

  /** A source as a stream of its decoded records, keyed by their Kafka key; `eventTime` defaults to the Kafka timestamp. */
  stream<N extends keyof S & string>(source: N, options: { eventTime?: (value: ValueOf<S[N]>) => number } = {}): Stream<ValueOf<S[N]>, SinkName> {
    const origin = { source, ...(options.eventTime === undefined ? {} : { eventTime: options.eventTime as (value: unknown) => number }) };
    return this.once(source, 'stream', options.eventTime, () => new Stream<ValueOf<S[N]>, SinkName>(this.graph, origin, []));
  }

  /** The node a source was first read as; reading it again (as the same, with the same event time) returns that node. */
  private once<T>(source: string, as: 'table' | 'stream', eventTime: unknown, make: () => T): T {
    const earlier = this.graph.read.get(source);
    if (earlier === undefined) {
      const node = make();
      this.graph.read.set(source, { as, node, eventTime });
      return node;
    }
    if (earlier.as !== as || earlier.eventTime !== eventTime) throw new Error(`streamsJob: source '${source}' is already read as a ${earlier.as}${earlier.as === as ? ' with another eventTime' : ''}; read it once and reuse that ${earlier.as}`);
    return earlier.node as T;
  }
}

abstract class Node<SinkName extends string> {
  constructor(
    protected readonly graph: Graph,
    protected readonly origin: Origin,
    protected readonly steps: readonly Step[],
  ) {}

  protected sendTo(sink: SinkName, table: boolean): void {
    this.graph.stageOf(this.origin).outlets.push({ steps: this.steps, target: { kind: 'sink', sink, table } });
  }
}

/**
 * A table: a changelog of rows by key, as Kafka Streams' KTable. Each change is an insert, a
 * delete, or an update as the retraction of the old row and the addition of the new one.
 */
export class Table<Row, SinkName extends string> extends Node<SinkName> {
  private with<Out>(step: Step): Table<Out, SinkName> {
    return new Table<Out, SinkName>(this.graph, this.origin, [...this.steps, step]);
  }

  /** The rows for which `keep` holds; a row that stops matching is deleted, one that starts is inserted. */
  filter(keep: (row: Row, key: string) => boolean): Table<Row, SinkName> {
    return this.with((items) => repairPairs(items.filter((i) => keep((i.value as Change<Row>).row, i.key))));
  }

  /** Each row mapped; an update whose mapped rows are equal emits nothing. */
  mapValues<Out>(map: (row: Row, key: string) => Out): Table<Out, SinkName> {
    return this.with((items) => dropUnchanged(items.map((i) => ({ ...i, value: { ...(i.value as Change<Row>), row: map((i.value as Change<Row>).row, i.key) } }))));
  }

  /**
   * A stream made from each change as a pair of rows (null: none), e.g. alerts when a value
   * crosses a threshold; `map` returns null or undefined to emit nothing.
   */
  changes<Out>(map: (before: Row | null, after: Row | null, key: string) => Out | null | undefined): Stream<Out, SinkName> {
    const step: Step = (items) =>
      beforeAfter<Row>(items).flatMap(({ key, before, after, ts }) => {
        const value = map(before, after, key);
        return value === null || value === undefined ? [] : [{ key, value, ts }];
      });
    return new Stream<Out, SinkName>(this.graph, this.origin, [...this.steps, step]);
  }

  /** Writes the table as an upsert stream: key -> latest row, a tombstone on delete. */
  to(sink: SinkName): void {
    this.sendTo(sink, true);
  }

  /**
   * Joins each row with the row of `other` whose key is `foreignKey(row)` (order_items ->
   * products), keyed by this table's key. A change on either side retracts the results it
   * changes and emits the new ones. `kind: 'left'` keeps rows without a match, joined with null.
   */
  joinForeign<One, Out>(name: string, other: Table<One, SinkName>, foreignKey: (row: Row) => string | null, combine: (row: Row, one: One | null, key: string) => Out, kind: JoinKind = 'inner'): Table<Out, SinkName> {
    // As Kafka Streams' foreign-key join: the left rows subscribe, by foreign key, to the right
    // row (stage `<name>-fk`), which answers each subscription and each of its changes back to the
    // left key; stage `<name>` keeps the current left row and takes only the answer to it.
    const fk = (item: Item) => foreignKey((item.value as Change<Row>).row);
    const subscriptions = this.graph.connect(this.origin, this.steps, `${name}-fk`, 'left', (item) => {
      const key = fk(item);
      return key === null ? [] : [[key, { k: item.key, v: item.value }]];
    });
    const right = other.connectTo(`${name}-fk`, 'right');
    const answers = this.graph.add(foreignKeyStage(`${name}-fk`, [subscriptions, right]));
    const resolve = this.graph.connect(this.origin, this.steps, name, 'in', (item) => [[item.key, { k: item.key, v: { row: item.value } }]]);
    this.graph.connect({ stage: answers }, [], name, 'in', (item) => [[item.key, { k: item.key, v: { answer: item.value } }]]);
    const stage = this.graph.add(resolveStage(name, resolve, foreignKey as (row: unknown) => string | null, combine as (l: unknown, r: unknown, key: string) => unknown, kind));
    return new Table<Out, SinkName>(this.graph, { stage }, []);
  }

  /** Joins rows of the same key in both tables (Kafka Streams' KTable-KTable join). */
  join<Other, Out>(name: string, other: Table<Other, SinkName>, combine: (row: Row, other: Other, key: string) => Out): Table<Out, SinkName> {
    return this.sameKey(name, other, combine as (row: Row, other: Other | null, key: string) => Out, 'inner');
  }

  /** As {@link join}, keeping rows without a match in `other` (joined with null). */
  leftJoin<Other, Out>(name: string, other: Table<Other, SinkName>, combine: (row: Row, other: Other | null, key: string) => Out): Table<Out, SinkName> {
    return this.sameKey(name, other, combine, 'left');
  }

  private sameKey<Other, Out>(name: string, other: Table<Other, SinkName>, combine: (row: Row, other: Other | null, key: string) => Out, kind: JoinKind): Table<Out, SinkName> {
    const [left, right] = [this.connectTo(name, 'left'), other.connectTo(name, 'right')];
    const stage = this.graph.add(joinStage(name, [left, right], combine as (l: unknown, r: unknown, key: string) => unknown, kind));
    return new Table<Out, SinkName>(this.graph, { stage }, []);
  }

  /** @internal Its changes, by its key, into stage `stage`'s repartition topic `<stage>-<side>` (how joins read a table). */
  connectTo(stage: string, side: string): Input {
    return this.graph.connect(this.origin, this.steps, stage, side, (item) => [[item.key, { k: item.key, v: item.value }]]);
  }

  /**
   * Re-groups rows by a new key (null: in no group), for {@link GroupedTable.aggregate}. A row
   * that moves leaves its old group and joins the new one.
   */
  groupBy(group: (row: Row, key: string) => string | null): GroupedTable<Row, SinkName> {
    return new GroupedTable({ graph: this.graph, origin: this.origin, steps: this.steps, group });
  }
}

/** Options of {@link GroupedTable.aggregate}. */
export interface TableAggregateOptions<R, Out, SinkName extends string> {
  /** The result row of a group (default: the aggregators' results as they are). */
  result?: (result: R, group: string) => Out;
  /**
   * When a group closes for good, in event time (e.g. a window's end plus its retention): then its
   * state is deleted, its last result stays, and later changes go to `late` (a sink) with the reason.
   */
  closesAt?: (group: string) => number;
  late?: SinkName;
}

/** A table re-grouped by a new key, as Kafka Streams' KGroupedTable. */
export class GroupedTable<Row, SinkName extends string> {
  constructor(private readonly by: Grouping<Row, string | null>) {}

  /**
   * Aggregates that retract (`count`, `sum`, `avg`, `min`, `max`, `topN`, ...), by name, per
   * group: a table of one result row per group that always equals the aggregates over the
   * group's current rows; a group that empties is deleted.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- an aggregator's state type is its own; only the row and result types matter here
  aggregate<A extends Record<string, Aggregator<Row, any, unknown>>, Out = { [N in keyof A]: ResultOf<A[N]> }>(name: string, aggregators: A, options: TableAggregateOptions<{ [N in keyof A]: ResultOf<A[N]> }, Out, SinkName> = {}): Table<Out, SinkName> {
    const { graph, origin, steps } = this.by;
    const input = graph.connect(origin, steps, name, 'in', (item) => {
      const group = this.by.group((item.value as Change<Row>).row, item.key);
      return group === null ? [] : [[group, { k: item.key, v: item.value }]];
    });
    const result = (options.result ?? ((r: unknown) => r)) as (r: Record<string, unknown>, group: string) => unknown;
    const closing = options.closesAt === undefined ? undefined : { closesAt: options.closesAt, ...(options.late === undefined ? {} : { late: options.late }) };
    const stage = graph.add(aggregateStage(name, input, aggregators, result, closing));
    return new Table<Out, SinkName>(graph, { stage }, []);
  }
}

/** A stream of records, each with a key and an event time, as Kafka Streams' KStream. */
export class Stream<V, SinkName extends string> extends Node<SinkName> {
  private with<Out>(step: Step): Stream<Out, SinkName> {
    return new Stream<Out, SinkName>(this.graph, this.origin, [...this.steps, step]);
  }

  /** The records for which `keep` holds. */
  filter(keep: (value: V, key: string) => boolean): Stream<V, SinkName> {
    return this.with((items) => items.filter((i) => keep(i.value as V, i.key)));
  }

  /** Each record's value mapped; key and event time stay. */
  map<Out>(map: (value: V, key: string) => Out): Stream<Out, SinkName> {
    return this.with((items) => items.map((i) => ({ ...i, value: map(i.value as V, i.key) })));
  }

  /** Each record to zero or more values, each with the record's key and event time. */
  flatMap<Out>(map: (value: V, key: string) => readonly Out[]): Stream<Out, SinkName> {
    return this.with((items) => items.flatMap((i) => map(i.value as V, i.key).map((value) => ({ ...i, value }))));
  }

  /** A new key for each record (for the sinks it goes to; grouping re-keys by itself). */
  selectKey(key: (value: V, key: string) => string): Stream<V, SinkName> {
    return this.with((items) => items.map((i) => ({ ...i, key: key(i.value as V, i.key) })));
  }

  /** A new event time for each record, e.g. the order's `created_at` rather than the change's. */
  withTimestamp(ts: (value: V) => number): Stream<V, SinkName> {
    return this.with((items) => items.map((i) => ({ ...i, ts: ts(i.value as V) })));
  }

  /** Writes each record to `sink` with its key (a null value is a tombstone); its event time goes in the header `eddy.event.time`. */
  to(sink: SinkName): void {
    this.sendTo(sink, false);
  }

  /**
   * Joins each record with the current row of `table` whose key is `key(value)` (Kafka Streams'
   * KStream-KTable join): results keyed by that key; a later change of the row does not revisit
   * them. `kind: 'left'` keeps records without a row (joined with null); an inner join drops them.
   */
  join<Row, Out>(name: string, table: Table<Row, SinkName>, key: (value: V) => string | null, combine: (value: V, row: Row | null, key: string) => Out, kind: JoinKind = 'inner'): Stream<Out, SinkName> {
    const records = this.graph.connect(this.origin, this.steps, name, 'left', (item) => {
      const joinKey = key(item.value as V);
      return joinKey === null ? [] : [[joinKey, { k: item.key, v: item.value }]];
    });
    const rows = table.connectTo(name, 'right');
    const stage = this.graph.add(streamTableStage(name, [records, rows], combine as (v: unknown, r: unknown, key: string) => unknown, kind));
    return new Stream<Out, SinkName>(this.graph, { stage }, []);
  }

  /** Groups records by a key (re-keying through a repartition topic), for windowed aggregates. */
  groupBy(group: (value: V, key: string) => string): GroupedStream<V, SinkName> {
    return new GroupedStream({ graph: this.graph, origin: this.origin, steps: this.steps, group });
  }

  /**
   * The first record of each `key(value)` passes, repeats within `withinMs` of event time are
   * dropped and counted (`duplicates`). Read straight from a source, this needs a record's
   * repeats in the same partition, which a producer's retry (same key) guarantees.
   */
  distinct(name: string, key: (value: V) => string, withinMs: number): Stream<V, SinkName> {
    const stage = this.graph.add(distinctStage(name, this.input(name, key), withinMs));
    return new Stream<V, SinkName>(this.graph, { stage }, []);
  }

  /** A keyed process function (state, timers, emit anything): the escape hatch, as Kafka Streams' `process()`. */
  process<S, Out>(name: string, key: (value: V) => string, spec: ProcessSpec<V, S, Out>): Stream<Out, SinkName> {
    const stage = this.graph.add(processStage(name, this.input(name, key), spec));
    return new Stream<Out, SinkName>(this.graph, { stage }, []);
  }

  /** A source read as is goes straight into the stage (keyed by `key`); anything else is re-keyed through a repartition topic. */
  private input(name: string, key: (value: V) => string): Input {
    if (!('stage' in this.origin) && this.steps.length === 0) {
      const { eventTime } = this.origin;
      return { source: this.origin.source, direct: { key: (p) => key(p.v as V), ...(eventTime === undefined ? {} : { eventTime }) } };
    }
    return this.graph.connect(this.origin, this.steps, name, 'in', (item) => [[key(item.value as V), { k: item.key, v: item.value }]]);
  }
}

/** A stream grouped by key, as Kafka Streams' KGroupedStream. */
export class GroupedStream<V, SinkName extends string> {
  constructor(private readonly by: Grouping<V, string>) {}

  /** Tumbling or hopping windows (`tumbling(ms)`, `hopping(size, advance)`) of event time per group. */
  windowedBy(windows: (ts: number) => Window[], options: WindowOptions & { late?: SinkName } = {}): WindowedStream<V, SinkName> {
    return new WindowedStream(this.by, windows, options);
  }

  /** Session windows per group: a session ends after `gapMs` of event time without records. */
  sessions(gapMs: number, options: WindowOptions & { late?: SinkName } = {}): SessionStream<V, SinkName> {
    return new SessionStream(this.by, gapMs, options);
  }
}

/** A grouped stream in time windows. */
export class WindowedStream<V, SinkName extends string> {
  constructor(
    private readonly by: Grouping<V, string>,
    private readonly windows: (ts: number) => Window[],
    private readonly options: WindowOptions,
  ) {}

  /**
   * Folds each window's records; its result goes out when the window closes (the watermark past
   * its end plus the allowed lateness), keyed by the window's start (ISO-8601 UTC), prefixed with
   * `group@` when the group is not empty. Later records go to the late output.
   */
  aggregate<A, Out>(name: string, fold: WindowAggregator<V, A, Out>): Stream<Out, SinkName> {
    const { graph, origin, steps, group: groupOf } = this.by;
    const input = graph.connect(origin, steps, name, 'in', (item) => {
      const group = groupOf(item.value as V, item.key);
      return this.windows(item.ts).map((w): [string, Payload] => [group === '' ? isoUtc(w.start) : `${group}@${isoUtc(w.start)}`, { k: group, v: item.value, w: [w.start, w.end] } as Payload]);
    });
    const stage = graph.add(windowStage(name, input, fold, this.options));
    return new Stream<Out, SinkName>(graph, { stage }, []);
  }
}

/** A grouped stream in session windows. */
export class SessionStream<V, SinkName extends string> {
  constructor(
    private readonly by: Grouping<V, string>,
    private readonly gapMs: number,
    private readonly options: WindowOptions,
  ) {}

  /** Folds each session (`of` a record, `merge` two sessions); the result goes out when the session closes, keyed by the group. */
  aggregate<A, Out>(name: string, fold: SessionAggregator<V, A, Out>): Stream<Out, SinkName> {
    const { graph, origin, steps, group } = this.by;
    const input = graph.connect(origin, steps, name, 'in', (item) => [[group(item.value as V, item.key), { k: item.key, v: item.value }]]);
    const stage = graph.add(sessionStage(name, input, this.gapMs, fold, this.options));
    return new Stream<Out, SinkName>(graph, { stage }, []);
  }
}

export type { ActorContext, JoinKind, ProcessSpec, SessionAggregator, WindowAggregator, WindowOptions };

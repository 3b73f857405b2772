/**
 * Aggregates that retract. Each one keeps a JSON state that it can add a row to and remove a row
 * from, so an update (retract old, add new) or a delete of a source row corrects every result it
 * fed, and a group's result always equals the aggregate over the rows it currently holds. Min,
 * max and top-N keep counts per value for that reason: removing the current minimum must reveal
 * the next one, which a running minimum cannot.
 *
 * Sums are exact: every input is rounded to `scale` decimal places and summed as an integer count
 * of 10^-scale units, so adding then removing a value leaves the sum exactly as it was (binary
 * floating point would drift). Safe while |sum| < 2^53 units (9e13 at scale 2).
 */
import type { Change } from '../contract/change.ts';
import { isAddition } from './change.ts';

/** One aggregate over rows of type `Row`: state `S` (JSON), result `R`. */
export interface Aggregator<Row, S, R> {
  init(): S;
  add(state: S, row: Row): S;
  remove(state: S, row: Row): S;
  result(state: S): R;
}

/** Number of rows, or of rows for which `where` holds (SQL's `COUNT(*) FILTER (WHERE ...)`). */
export function count<Row>(where?: (row: Row) => boolean): Aggregator<Row, number, number> {
  const counts = (row: Row) => where === undefined || where(row);
  return { init: () => 0, add: (n, row) => (counts(row) ? n + 1 : n), remove: (n, row) => (counts(row) ? n - 1 : n), result: (n) => n };
}

/** Options of {@link sum} and {@link avg}. */
export interface DecimalOptions {
  /** Decimal places kept, 0-6. Default 2 (currency). */
  scale?: number;
}

/** Exact sum of `value(row)` at `scale` decimals; the result is a number with at most `scale` decimals. Nulls are skipped, as in SQL. */
export function sum<Row>(value: (row: Row) => number | null, options: DecimalOptions = {}): Aggregator<Row, number, number> {
  const unit = unitOf(options.scale);
  const units = (row: Row) => {
    const v = value(row);
    return v === null ? 0 : toUnits(v, unit);
  };
  return {
    init: () => 0,
    add: (total, row) => total + units(row),
    remove: (total, row) => total - units(row),
    result: (total) => total / unit,
  };
}

/**
 * Average of `value(row)`, exact sum over count, rounded half away from zero to `scale` decimals;
 * rows whose value is null are skipped, as in SQL; null over no values.
 */
export function avg<Row>(value: (row: Row) => number | null, options: DecimalOptions = {}): Aggregator<Row, { n: number; units: number }, number | null> {
  const unit = unitOf(options.scale);
  const change = (s: { n: number; units: number }, row: Row, sign: 1 | -1) => {
    const v = value(row);
    return v === null ? s : { n: s.n + sign, units: s.units + sign * toUnits(v, unit) };
  };
  return {
    init: () => ({ n: 0, units: 0 }),
    add: (s, row) => change(s, row, 1),
    remove: (s, row) => change(s, row, -1),
    result: (s) => (s.n === 0 ? null : roundHalfAway(s.units / s.n) / unit),
  };
}

/** A value min/max can order: numbers, or strings (by code unit). */
export type Ordered = number | string;

/** Smallest `value(row)` among the rows; null over no rows. */
export function min<Row, V extends Ordered>(value: (row: Row) => V): Aggregator<Row, [V, number][], V | null> {
  return extreme(value, 'min');
}

/** Largest `value(row)` among the rows; null over no rows. */
export function max<Row, V extends Ordered>(value: (row: Row) => V): Aggregator<Row, [V, number][], V | null> {
  return extreme(value, 'max');
}

/** One entry of a {@link topN} result. */
export type Ranked = { readonly group: string; readonly weight: number };

/** Options of {@link topN}. */
export interface TopNOptions extends DecimalOptions {
  /** How many groups to return. Default 1. */
  n?: number;
}

/**
 * The `n` groups with the largest summed `weight(row)`, ties broken by the smaller group name;
 * rows whose group is null are left out, and so are groups whose rows all went away.
 */
export function topN<Row>(group: (row: Row) => string | null, weight: (row: Row) => number, options: TopNOptions = {}): Aggregator<Row, Record<string, [number, number]>, Ranked[]> {
  return topNWeighted((row: Row) => {
    const name = group(row);
    return name === null ? [] : [[name, weight(row)]];
  }, options);
}

/**
 * As {@link topN}, where one row adds weight to several groups, e.g. an order to the category of
 * each of its items: `weights(row)` lists `[group, weight]` pairs (a group may repeat).
 */
export function topNWeighted<Row>(weights: (row: Row) => readonly (readonly [string, number])[], options: TopNOptions = {}): Aggregator<Row, Record<string, [number, number]>, Ranked[]> {
  const unit = unitOf(options.scale);
  const n = options.n ?? 1;
  const change = (state: Record<string, [number, number]>, row: Row, sign: 1 | -1): Record<string, [number, number]> => {
    const next = { ...state };
    for (const [name, weight] of weights(row)) {
      const [rows, units] = next[name] ?? [0, 0];
      if (rows + sign === 0) delete next[name];
      else next[name] = [rows + sign, units + sign * toUnits(weight, unit)];
    }
    return next;
  };
  return {
    init: () => ({}),
    add: (state, row) => change(state, row, 1),
    remove: (state, row) => change(state, row, -1),
    result: (state) =>
      Object.entries(state)
        .map(([name, [, units]]) => ({ group: name, weight: units / unit }))
        .sort((a, b) => b.weight - a.weight || (a.group < b.group ? -1 : a.group > b.group ? 1 : 0))
        .slice(0, n),
  };
}

type StateOf<A> = A extends Aggregator<never, infer S, unknown> ? S : never;
type ResultOf<A> = A extends Aggregator<never, unknown, infer R> ? R : never;

/** Several aggregates over the same rows, with the number of rows, which tells when a group is empty. */
export interface Aggregate<Row, Aggs extends Record<string, Aggregator<Row, unknown, unknown>>> {
  /** A group with no rows. */
  init(): AggregateState<Aggs>;
  /** The group after `change`: additions add the row, retractions remove it. */
  apply(state: AggregateState<Aggs>, change: Change<Row>): AggregateState<Aggs>;
  /** Every aggregate's result. */
  result(state: AggregateState<Aggs>): { [Name in keyof Aggs]: ResultOf<Aggs[Name]> };
  /** Whether the group holds no rows (all were retracted). */
  isEmpty(state: AggregateState<Aggs>): boolean;
}

/** The JSON state of an {@link Aggregate}. */
export type AggregateState<Aggs> = { rows: number; of: { [Name in keyof Aggs]: StateOf<Aggs[Name]> } };

/**
 * Combines named aggregators.
 *
 * ```ts
 * const revenue = aggregate({ orders: count<Order>(), total: sum((o: Order) => o.total_amount) });
 * state = revenue.apply(state, change);
 * revenue.result(state); // { orders: 3, total: 59.97 }
 * ```
 */
export function aggregate<Row, Aggs extends Record<string, Aggregator<Row, unknown, unknown>>>(aggs: Aggs): Aggregate<Row, Aggs> {
  const names = Object.keys(aggs) as (keyof Aggs & string)[];
  type State = AggregateState<Aggs>;
  const each = (make: (name: keyof Aggs & string, agg: Aggregator<Row, unknown, unknown>) => unknown) =>
    Object.fromEntries(names.map((name) => [name, make(name, aggs[name] as Aggregator<Row, unknown, unknown>)]));
  return {
    init: () => ({ rows: 0, of: each((_name, agg) => agg.init()) }) as State,
    apply(state, change) {
      const adding = isAddition(change.op);
      const of = each((name, agg) => {
        const current = (state.of as Record<string, unknown>)[name];
        return adding ? agg.add(current, change.row) : agg.remove(current, change.row);
      });
      return { rows: state.rows + (adding ? 1 : -1), of } as State;
    },
    result: (state) => each((name, agg) => agg.result((state.of as Record<string, unknown>)[name])) as { [Name in keyof Aggs]: ResultOf<Aggs[Name]> },
    isEmpty: (state) => state.rows === 0,
  };
}

function extreme<Row, V extends Ordered>(value: (row: Row) => V, which: 'min' | 'max'): Aggregator<Row, [V, number][], V | null> {
  // Sorted ascending; entries whose count reaches 0 are dropped.
  const change = (state: [V, number][], row: Row, sign: 1 | -1): [V, number][] => {
    const v = value(row);
    const at = state.findIndex(([existing]) => existing >= v);
    const next = state.map((entry) => [...entry] as [V, number]);
    if (at >= 0 && next[at]?.[0] === v) {
      const entry = next[at];
      entry[1] += sign;
      if (entry[1] === 0) next.splice(at, 1);
    } else if (sign > 0) {
      next.splice(at < 0 ? next.length : at, 0, [v, 1]);
    }
    return next;
  };
  return {
    init: () => [],
    add: (state, row) => change(state, row, 1),
    remove: (state, row) => change(state, row, -1),
    result: (state) => (state.length === 0 ? null : ((which === 'min' ? state[0] : state[state.length - 1]) as [V, number])[0]),
  };
}

function unitOf(scale = 2): number {
  if (!Number.isInteger(scale) || scale < 0 || scale > 6) throw new RangeError(`scale must be an integer 0-6, got ${scale}`);
  return 10 ** scale;
}

function toUnits(value: number, unit: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`cannot aggregate ${value}`);
  return roundHalfAway(value * unit);
}

function roundHalfAway(x: number): number {
  // value * unit can land a hair below .5 (1.005 * 100 = 100.49999...): nudge by a relative epsilon.
  const nudged = Math.abs(x) * (1 + Number.EPSILON * 4);
  return Math.sign(x) * Math.floor(nudged + 0.5);
}

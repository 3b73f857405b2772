/**
 * Joins of change streams, kept in the state of an actor keyed by the join key. A many-to-one
 * join (order_items -> products, orders -> users: a foreign-key join) holds, per key, the one
 * row of the "one" side and every row of the "many" side that currently points at it; a change
 * on either side retracts the results it changes and emits the new ones, so the joined stream is
 * always the join of the current tables. Re-key the "many" side by its foreign key through a
 * repartition first, so both sides of a key meet in one actor.
 *
 * `inner` joins emit nothing for a many-row without its one-row; `left` joins emit it with null.
 */
import type { Change } from '../contract/change.ts';
import { isAddition } from './change.ts';

/** The state of one join key: the one-side row (null: none) and the many-side rows by their own id. */
export type JoinState<Many, One> = { one: One | null; many: Record<string, Many> };

/** `inner` or `left` (keep many-rows without a match, joined with null). */
export type JoinKind = 'inner' | 'left';

/** What a change did to a join key: its new state and the joined changes to emit. */
export type JoinUpdate<Many, One, Out> = { state: JoinState<Many, One>; changes: Change<Out>[] };

/** A many-to-one join: how a many-row is identified and how a pair becomes a result. */
export interface ManyToOneJoin<Many, One, Out> {
  /** A key with no rows yet. */
  init(): JoinState<Many, One>;
  /** Applies a change of the many side (e.g. an order item). */
  many(state: JoinState<Many, One>, change: Change<Many>): JoinUpdate<Many, One, Out>;
  /** Applies a change of the one side (e.g. its product). */
  one(state: JoinState<Many, One>, change: Change<One>): JoinUpdate<Many, One, Out>;
  /** Whether the key holds nothing and its state can be dropped. */
  isEmpty(state: JoinState<Many, One>): boolean;
}

/**
 * Declares a many-to-one join.
 *
 * @param id a many-row's own key (e.g. `item_id`), unique among the rows of a join key
 * @param combine the result of a many-row and its one-row (null only in a `left` join)
 */
export function manyToOne<Many, One, Out>(id: (row: Many) => string, combine: (many: Many, one: One | null) => Out, kind: JoinKind = 'inner'): ManyToOneJoin<Many, One, Out> {
  const joined = (many: Many, one: One | null): Out | undefined => (one === null && kind === 'inner' ? undefined : combine(many, one));
  return {
    init: () => ({ one: null, many: {} }),
    many(state, change) {
      const rowId = id(change.row);
      const manyRows = { ...state.many };
      const changes: Change<Out>[] = [];
      const out = joined(change.row, state.one);
      if (isAddition(change.op)) manyRows[rowId] = change.row;
      else delete manyRows[rowId];
      if (out !== undefined) changes.push({ op: change.op, row: out, ts: change.ts });
      return { state: { one: state.one, many: manyRows }, changes };
    },
    one(state, change) {
      const changes: Change<Out>[] = [];
      const emit = (op: Change<Out>['op'], row: Out | undefined): void => {
        if (row !== undefined) changes.push({ op, row, ts: change.ts });
      };
      // An update arrives as update-before(old) then update-after(new): retract every result of
      // the old row, then add every result of the new one. An insert or delete of the one-row
      // adds or retracts results outright in an inner join, and swaps them with the null-joined
      // ones in a left join.
      for (const row of Object.values(state.many)) {
        switch (change.op) {
          case 'insert':
            if (kind === 'left') emit('update-before', combine(row, null));
            emit(kind === 'left' ? 'update-after' : 'insert', joined(row, change.row));
            break;
          case 'update-before':
            emit('update-before', joined(row, change.row));
            break;
          case 'update-after':
            emit('update-after', joined(row, change.row));
            break;
          case 'delete':
            emit(kind === 'left' ? 'update-before' : 'delete', joined(row, change.row));
            if (kind === 'left') emit('update-after', combine(row, null));
            break;
        }
      }
      return { state: { one: isAddition(change.op) ? change.row : null, many: state.many }, changes };
    },
    isEmpty: (state) => state.one === null && Object.keys(state.many).length === 0,
  };
}

/** The state of one join key of a stream-table join: the table's current row (null: none). */
export type LookupState<Row> = { row: Row | null };

/** A stream-table join (Kafka Streams' KStream-KTable join): stream records take the table's current row; table changes emit nothing. */
export interface StreamTableJoin<Event, Row, Out> {
  /** A key with no row yet. */
  init(): LookupState<Row>;
  /** Applies a change of the table side. */
  table(state: LookupState<Row>, change: Change<Row>): LookupState<Row>;
  /** Joins a stream record with the current row: the result, or undefined (inner join, no row). */
  stream(state: LookupState<Row>, event: Event): Out | undefined;
}

/**
 * Declares a stream-table join, kept per join key: the table side is stored, the stream side
 * is not. A later change of the row does not revisit earlier results (use {@link manyToOne} for
 * that); as in Kafka Streams, a stream record that arrives before its row joins with nothing.
 *
 * @param combine the result of a stream record and the row (null only in a `left` join)
 */
export function streamTable<Event, Row, Out>(combine: (event: Event, row: Row | null) => Out, kind: JoinKind = 'inner'): StreamTableJoin<Event, Row, Out> {
  return {
    init: () => ({ row: null }),
    table: (_state, change) => ({ row: isAddition(change.op) ? change.row : null }),
    stream: (state, event) => (state.row === null && kind === 'inner' ? undefined : combine(event, state.row)),
  };
}

/**
 * Tables from CDC topics: one row per primary key, kept as the state of a keyed actor whose key
 * is the row's key. A Debezium change event becomes the {@link Change}s that take the table from
 * its old row to its new one:
 *
 * - `c`, `r` (snapshot read) and `u` set the row; the old row, if any, is retracted first;
 * - `d` removes it (a retraction of the last known row; nothing when none is known);
 * - a column holding Debezium's unchanged-TOAST placeholder takes the last known value;
 * - the event's `before` image is never trusted as the old row: with PostgreSQL's default
 *   replica identity it carries only the key columns. The old row is the table's own.
 *
 * Truncation (`t`) carries no key, so it reaches one task and cannot be applied per key here;
 * {@link applyDebezium} refuses it. The streams DSL's tables (`b.table`) apply it on every task,
 * ordered by {@link changePosition} (see docs/ARCHITECTURE.md, "Change streams").
 */
import { BadRecordError } from '../../common/errors.ts';
import { keyedActor } from '../builders/keyed-actor.ts';
import type { Change } from '../contract/change.ts';
import type { ActorContext } from '../contract/context.ts';
import type { KeyedActor, KeyedActorSpec } from '../contract/job.ts';
import { isUnavailable, type DebeziumChange } from '../formats/debezium.ts';
import { changesBetween } from './change.ts';

/**
 * Where a change event sits in the database's log, as a string that sorts in log order: the
 * PostgreSQL LSN (`source.lsn`), the MySQL binlog file, position and row (`source.file`, `pos`,
 * `row`), else the change's time (`source.ts_ms`). Comparable between events of one connector,
 * whatever partition they came through: how a table orders a truncate against row changes.
 */
export function changePosition(change: DebeziumChange<object>): string {
  const { source } = change;
  const pad = (n: unknown, width: number) => String(typeof n === 'number' || typeof n === 'string' ? n : 0).padStart(width, '0');
  if (typeof source.lsn === 'number' || (typeof source.lsn === 'string' && /^\d+$/.test(source.lsn))) return `L${pad(source.lsn, 20)}`;
  if (typeof source.file === 'string' && source.pos !== undefined) return `M${source.file}:${pad(source.pos, 20)}:${pad(source.row, 10)}`;
  return `T${pad(source.ts_ms, 16)}`;
}



/** A table row as the state of its key's actor, and the changes that got it there. */
export type TableUpdate<Row> = { row: Row | null; changes: Change<Row>[] };

/**
 * Applies one Debezium change to the row of its key.
 *
 * @param current the key's row so far (null: none)
 * @param ts the event time to stamp the changes with
 * @param where names the record in errors, e.g. `ecommerce.public.orders[3]@1042`
 * @throws BadRecordError for a truncate or message event, a change without the row it needs, or a
 *   TOAST placeholder in a column whose earlier value is not known
 */
export function applyDebezium<Row extends object>(current: Row | null, change: DebeziumChange<Row>, ts: number, where = 'record'): TableUpdate<Row> {
  switch (change.op) {
    case 'c':
    case 'r':
    case 'u': {
      if (change.after === null) throw new BadRecordError(where, 'after', `op '${change.op}' without an after image`);
      const row = fillUnavailable(change.after, change.unavailable ?? [], current, where);
      return { row, changes: changesBetween(current, row, ts) };
    }
    case 'd':
      return { row: null, changes: changesBetween(current, null, ts) };
    default:
      throw new BadRecordError(where, 'op', `op '${change.op}' has no row to apply to a table`);
  }
}

/**
 * `after` with every column the database did not send (`unavailable`, as debezium() reports it,
 * or a placeholder left in the row by another decoder) set to the column's last known value.
 */
function fillUnavailable<Row extends object>(after: Row, unavailable: readonly string[], current: Row | null, where: string): Row {
  let filled: Record<string, unknown> | undefined;
  const columns = new Set([...unavailable, ...Object.entries(after).flatMap(([column, value]) => (isUnavailable(value) ? [column] : []))]);
  for (const column of columns) {
    const known = current === null ? undefined : (current as Record<string, unknown>)[column];
    if (known === undefined) throw new BadRecordError(where, `after.${column}`, 'unchanged TOAST value (__debezium_unavailable_value) and no earlier value of the row is known');
    filled ??= { ...(after as Record<string, unknown>) };
    filled[column] = known;
  }
  return (filled ?? after) as Row;
}



/** The state of a {@link cdcTable} actor: the key's current row. */
export type TableState<Row> = { row: Row | null };

/** What {@link cdcTable} takes. */
export interface CdcTableSpec<Row extends object> {
  /** The Debezium source the table is read from. */
  from: string;
  /** The primary-key column: one actor per key, keyed by its value as a string. */
  key: keyof Row & string;
  /**
   * Called after each change event with the changes it made (none when the row did not change),
   * the row before and the row after (null: no row).
   */
  onChange?: (changes: Change<Row>[], rows: { before: Row | null; after: Row | null }, ctx: ActorContext) => void;
  /** The event time of a change; default the record's Kafka timestamp. */
  eventTime?: (change: DebeziumChange<Row>) => number;
}

/**
 * A Debezium topic as a table: a keyed actor per primary key holding the current row
 * ({@link applyDebezium}), calling `onChange` with what each event changed. A deleted row's
 * state goes from the store.
 *
 * ```ts
 * items: cdcTable<OrderItemRow>({
 *   from: 'items', key: 'item_id',
 *   onChange: (changes, _rows, ctx) => changes.forEach((c) => ctx.emit('byProduct', String(c.row.product_id), c)),
 * }),
 * ```
 */
export function cdcTable<Row extends object>(spec: CdcTableSpec<Row>): KeyedActor<DebeziumChange<Row>, TableState<Row>> {
  const { key, onChange, eventTime } = spec;
  const handlers: KeyedActorSpec<DebeziumChange<Row>, TableState<Row>> = {
    from: spec.from,
    key: (change) => String(((change.after ?? change.before) as Record<string, unknown> | null)?.[key]),
    initial: () => ({ row: null }),
    onRecord(change, state, ctx) {
      const where = ctx.record === undefined ? 'record' : `${ctx.record.topic}[${ctx.record.partition}]@${ctx.record.offset}`;
      const { row, changes } = applyDebezium(state.row, change, ctx.eventTime, where);
      onChange?.(changes, { before: state.row, after: row }, ctx);
      return { row };
    },
  };
  if (eventTime !== undefined) handlers.eventTime = (change) => eventTime(change);
  return keyedActor(handlers);
}

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
 * {@link applyDebezium} refuses it (see docs/ARCHITECTURE.md, "Change streams").
 */
import { BadRecordError } from '../../common/errors.ts';
import type { Change } from '../contract/change.ts';
import type { DebeziumChange } from '../formats/debezium.ts';
import { changesBetween } from './change.ts';

/** What Debezium writes for a TOASTed column a change did not touch (PostgreSQL `unavailable.value.placeholder`). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

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
      const row = fillUnavailable(change.after, current, where);
      return { row, changes: changesBetween(current, row, ts) };
    }
    case 'd':
      return { row: null, changes: changesBetween(current, null, ts) };
    default:
      throw new BadRecordError(where, 'op', `op '${change.op}' has no row to apply to a table`);
  }
}

/** `after` with every unchanged-TOAST placeholder replaced by the column's last known value. */
function fillUnavailable<Row extends object>(after: Row, current: Row | null, where: string): Row {
  let filled: Record<string, unknown> | undefined;
  for (const [column, value] of Object.entries(after)) {
    if (!isUnavailable(value)) continue;
    const known = current === null ? undefined : (current as Record<string, unknown>)[column];
    if (known === undefined) throw new BadRecordError(where, `after.${column}`, 'unchanged TOAST value (__debezium_unavailable_value) and no earlier value of the row is known');
    filled ??= { ...(after as Record<string, unknown>) };
    filled[column] = known;
  }
  return (filled ?? after) as Row;
}

function isUnavailable(value: unknown): boolean {
  // Text columns carry the placeholder itself; bytea columns carry its bytes, base64 encoded.
  return value === UNAVAILABLE_VALUE || value === UNAVAILABLE_BASE64 || (Array.isArray(value) && value.length > 0 && value.every(isUnavailable));
}

const UNAVAILABLE_BASE64 = Buffer.from(UNAVAILABLE_VALUE).toString('base64');

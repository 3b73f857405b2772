/**
 * Small functions over {@link Change}s: which ones add and which retract, building the pair an
 * update becomes, and turning a change stream into an upsert stream (key -> latest value,
 * tombstone on delete), as a Kafka Streams KTable's `toStream()` does.
 */
import type { Change, Op } from '../contract/change.ts';
import type { ActorContext } from '../contract/context.ts';

/**
 * Emits changes under one key, each stamped with its own event time: how an actor re-keys a
 * table's changes into a repartition topic, e.g. `emitChanges(ctx, 'byProduct', productId, changes)`.
 */
export function emitChanges<Row>(ctx: ActorContext, sink: string, key: string, changes: readonly Change<Row>[]): void {
  for (const change of changes) ctx.emit(sink, key, change, { eventTime: change.ts });
}

/** Whether `op` adds its row (`insert`, `update-after`) rather than retracting it. */
export function isAddition(op: Op): boolean {
  return op === 'insert' || op === 'update-after';
}

/**
 * The changes that take a key from `before` to `after` (either may be null: absent). Nothing when
 * both are null, or both are equal by `same` (default: equal JSON), so unchanged rows stay quiet.
 */
export function changesBetween<Row>(before: Row | null, after: Row | null, ts: number, same: (a: Row, b: Row) => boolean = sameJson): Change<Row>[] {
  if (before === null) return after === null ? [] : [{ op: 'insert', row: after, ts }];
  if (after === null) return [{ op: 'delete', row: before, ts }];
  if (same(before, after)) return [];
  return [
    { op: 'update-before', row: before, ts },
    { op: 'update-after', row: after, ts },
  ];
}

/** Equality of JSON values by their JSON text (same keys in the same order). */
export function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The upsert record of a change: the new value for additions, a tombstone (null) for a delete,
 * and nothing for `update-before` (its `update-after` follows and replaces the value).
 */
export function upsertValue<Row>(change: Change<Row>): { value: Row | null } | undefined {
  if (change.op === 'update-before') return undefined;
  return { value: change.op === 'delete' ? null : change.row };
}

/**
 * `keyedActor`: the one actor kind so far. It only normalises the spec (`from` as a list) and
 * freezes it; `defineJob` checks it against the job's sources.
 */
import type { KeyedActor, KeyedActorSpec } from '../contract/job.ts';

/**
 * Declares a keyed actor. Give `In` and `S` explicitly, or let them be inferred from the
 * annotated `key`/`onRecord` parameters and from `initial`.
 *
 * ```ts
 * keyedActor({
 *   from: 'orders',
 *   key: (change: DebeziumChange<OrderRow>) => String(change.after?.user_id),
 *   initial: () => ({ orders: 0 }),
 *   onRecord(change, state) { state.orders += 1; },
 * });
 * ```
 */
export function keyedActor<In, S>(spec: KeyedActorSpec<In, S>): KeyedActor<In, S> {
  const from: readonly string[] = typeof spec.from === 'string' ? [spec.from] : [...spec.from];
  if (spec.stateTtlMs !== undefined && !(Number.isSafeInteger(spec.stateTtlMs) && spec.stateTtlMs >= 1)) {
    throw new RangeError(`keyedActor: stateTtlMs must be an integer number of ms ≥ 1, got ${String(spec.stateTtlMs)}`);
  }
  return Object.freeze({ ...spec, kind: 'keyed' as const, from: Object.freeze(from) });
}

/**
 * The record model of change streams: a change is a row with an operation and an event time, as
 * Flink's RowKind and RisingWave's Op. An update travels as two changes, the retraction of the
 * old row (`update-before`) and the addition of the new one (`update-after`), so that every
 * operator downstream can undo what the old row contributed before adding the new one.
 */

/** What a change does to the collection it belongs to. */
export type Op = 'insert' | 'delete' | 'update-before' | 'update-after';

/** All four, in the order an update emits them. */
export const OPS: readonly Op[] = ['insert', 'delete', 'update-before', 'update-after'];

/** A row added to or retracted from a collection, at an event time. Plain JSON, so it crosses repartition topics as is. */
export interface Change<Row> {
  readonly op: Op;
  readonly row: Row;
  /** Event time, ms since the epoch. */
  readonly ts: number;
}

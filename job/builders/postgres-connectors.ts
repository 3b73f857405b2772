/**
 * `postgresSink`: a PostgreSQL table a job writes exactly-once (worker/postgres-sink.ts does the
 * writing; docs/ARCHITECTURE.md, "The PostgreSQL sink", says why a replay writes nothing twice).
 */
import type { PostgresSink } from '../contract/job.ts';

/** Options of {@link postgresSink}. */
export interface PostgresSinkOptions {
  /**
   * Key columns. Given: upsert mode (INSERT ... ON CONFLICT over them, a null value deletes the
   * row of the output's key). Absent: append mode (every output is a new row; no tombstones).
   */
  key?: readonly string[];
  /** Connection string; default the worker's `EDDY_POSTGRES_URL`, so no password sits in job code. */
  connection?: string;
}

/**
 * A PostgreSQL table to write; actors send rows to it with `ctx.emit(<sink name>, key, row)`.
 * The row's fields are the columns (names as in the table; timestamps as ISO strings, numbers,
 * text, booleans, JSON for json/jsonb columns). With several key columns, an output's key is
 * the JSON array of their values (`["2026-12-01T10:00:00.000Z", 7]`); with one, its text.
 */
export function postgresSink(table: string, options: PostgresSinkOptions = {}): PostgresSink {
  const key = Object.freeze([...(options.key ?? [])]);
  const sink: { -readonly [K in keyof PostgresSink]: PostgresSink[K] } = { kind: 'postgres', table, mode: key.length > 0 ? 'upsert' : 'append', key, delivery: 'exactly-once' };
  if (key.length > 0) sink.upsert = true;
  if (options.connection !== undefined) sink.connection = options.connection;
  return Object.freeze(sink);
}

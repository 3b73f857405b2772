/**
 * Encodes one row change as the key and value bytes Debezium's PostgreSQL connector (3.1)
 * produces through Kafka Connect's JsonConverter, with or without `schemas.enable`.
 *
 * `before` follows the table's REPLICA IDENTITY. With DEFAULT (PostgreSQL's default, and ours)
 * updates and deletes carry only the primary key column, the shape Debezium's documentation shows
 * (`"before":{"id":1}`); with `replicaIdentityFull` they carry the whole previous row. (A real
 * pgoutput stream under DEFAULT is sparser still: an update that keeps the key has no old tuple,
 * so Debezium writes `before: null`, and JsonConverter writes a delete's `before` as a full Value
 * struct in which only the key columns carry data. Consumers should not rely on `before` beyond
 * the key unless the table is REPLICA IDENTITY FULL.)
 *
 * Transaction metadata is off (`transaction: null`), as with Debezium's default
 * `provide.transaction.metadata=false`. The value is serialized by hand because `ts_ns`
 * (nanoseconds since the epoch) does not fit a JavaScript number.
 */
import { envelopeSchemaJson, keySchemaJson, type SnapshotMarker } from './connect-schema.ts';
import { SOURCE_NAMES, TABLES, type Row, type TableName } from './model.ts';

/** The Debezium version written into `source.version`. */
export const DEBEZIUM_VERSION = '3.1.0.Final';

/** The row-level operations the generator emits. */
export type ChangeOp = 'r' | 'c' | 'u' | 'd';

/** Where in the simulated database's history a change happened: the `source` block's inputs. */
export type SourcePosition = {
  /** Commit time of the transaction (snapshot start for `r`), µs since the epoch. */
  commitUs: number;
  snapshot: SnapshotMarker;
  txId: number;
  /** The change's WAL position. */
  lsn: number;
  /** The previous transaction's commit LSN; null during the snapshot. */
  lastCommitLsn: number | null;
};

/** One row change to encode. `before` is always the full previous row; encoding trims it. */
export type RowChange = {
  table: TableName;
  op: ChangeOp;
  before: Row | null;
  after: Row | null;
};

/** Encoding switches. */
export type EnvelopeOptions = {
  /** Wrap key and value as `{"schema":…,"payload":…}` (JsonConverter `schemas.enable=true`). */
  schemas: boolean;
  /** Carry the whole previous row in `before` (REPLICA IDENTITY FULL) instead of the key only. */
  replicaIdentityFull: boolean;
  /** Debezium's `topic.prefix`: `source.name` and the prefix of the Connect schema names. */
  topicPrefix: string;
};

/** Encodes the record key: the primary key column, e.g. `{"order_id":7}`. */
export function encodeKey(table: TableName, row: Row, options: Pick<EnvelopeOptions, 'schemas' | 'topicPrefix'>): Buffer {
  const pk = TABLES[table].primaryKey;
  const payload = JSON.stringify({ [pk]: row[pk] ?? null });
  return Buffer.from(options.schemas ? wrap(keySchemaJson(options.topicPrefix, table), payload) : payload, 'utf8');
}

/**
 * Encodes the record value: the change envelope.
 *
 * @param processedUs when the connector processed the change (the envelope's `ts_*`), µs
 */
export function encodeValue(change: RowChange, source: SourcePosition, processedUs: number, options: EnvelopeOptions): Buffer {
  const payload = [
    `{"before":${rowJson(change.table, beforeImage(change, options.replicaIdentityFull))}`,
    `"after":${rowJson(change.table, change.after)}`,
    `"source":${sourceJson(options.topicPrefix, change.table, source)}`,
    `"transaction":null`,
    `"op":"${change.op}"`,
    `${timestampsJson(processedUs)}}`,
  ].join(',');
  return Buffer.from(options.schemas ? wrap(envelopeSchemaJson(options.topicPrefix, change.table), payload) : payload, 'utf8');
}

function beforeImage(change: RowChange, replicaIdentityFull: boolean): Row | null {
  if (change.before === null || replicaIdentityFull) return change.before;
  const pk = TABLES[change.table].primaryKey;
  return { [pk]: change.before[pk] ?? null };
}

/** A row with its columns in DDL order, as the Connect struct is written; absent columns are left out. */
function rowJson(table: TableName, row: Row | null): string {
  if (row === null) return 'null';
  const ordered: Record<string, string | number | null> = {};
  for (const column of TABLES[table].columns) {
    const value = row[column.name];
    if (value !== undefined) ordered[column.name] = value;
  }
  return JSON.stringify(ordered);
}

function sourceJson(topicPrefix: string, table: TableName, source: SourcePosition): string {
  const sequence = JSON.stringify([source.lastCommitLsn === null ? null : String(source.lastCommitLsn), String(source.lsn)]);
  return [
    `{"version":"${DEBEZIUM_VERSION}","connector":"postgresql","name":"${topicPrefix}"`,
    `"ts_ms":${Math.floor(source.commitUs / 1000)},"snapshot":"${source.snapshot}","db":"${SOURCE_NAMES.db}"`,
    `"sequence":${JSON.stringify(sequence)},"ts_us":${source.commitUs},"ts_ns":${source.commitUs}000`,
    `"schema":"${SOURCE_NAMES.schema}","table":"${table}","txId":${source.txId},"lsn":${source.lsn},"xmin":null}`,
  ].join(',');
}

function timestampsJson(us: number): string {
  return `"ts_ms":${Math.floor(us / 1000)},"ts_us":${us},"ts_ns":${us}000`;
}

function wrap(schemaJson: string, payloadJson: string): string {
  return `{"schema":${schemaJson},"payload":${payloadJson}}`;
}

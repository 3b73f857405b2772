/**
 * Decodes Debezium change events as Kafka Connect's JsonConverter writes them. This is the
 * parsing half of the Job API's `debezium()` source format: it turns a record's bytes into a
 * typed {@link DebeziumChange}, or throws a {@link BadRecordError} that names the record, the
 * field and the reason, so that the caller can dead-letter the original bytes (bad input is
 * terminal for the record, never for the task).
 *
 * Both converter settings are accepted: `schemas.enable=true` (`{"schema":…,"payload":…}`) and
 * `schemas.enable=false` (the envelope itself). With the schema, column values are decoded by
 * their Connect type: exact decimals, int64 beyond 2^53 (never rounded: a dead letter, or text on
 * request), Debezium's temporal types (as sent, or ISO-8601 text on request) and PostgreSQL's
 * infinity sentinels. Without it, declared columns are decoded and the rest passes through.
 */
import { isSafeNumber, parse as parseLossless } from 'lossless-json';
import { z } from 'zod';
import { BadRecordError } from '../../common/errors.ts';

/** Debezium operation codes: create, update, delete, read (snapshot), truncate, message. */
export const DEBEZIUM_OPS = ['c', 'u', 'd', 'r', 't', 'm'] as const;

/** One of {@link DEBEZIUM_OPS}. */
export type DebeziumOp = (typeof DEBEZIUM_OPS)[number];

/**
 * The envelope's `source` block, passed through with Debezium's own field names because most of
 * it is connector specific (PostgreSQL adds `txId`, `lsn`, `xmin`, `sequence`, …).
 */
export type DebeziumSource = {
  connector: string;
  /** The connector's logical name (`topic.prefix`), e.g. `ecommerce`. */
  name: string;
  /** When the change was made in the database, ms since the epoch. */
  ts_ms: number;
  /** `true`, `first`, `first_in_data_collection`, `last_in_data_collection`, `last`, `false`, `incremental`. */
  snapshot?: string;
  db: string;
  table: string;
  schema?: string;
  [field: string]: unknown;
};

/** Transaction metadata, present when the connector runs with `provide.transaction.metadata`. */
export type DebeziumTransaction = {
  id: string;
  /** Position of the event among all events of its transaction, from 1. */
  totalOrder: number;
  /** Position of the event among its transaction's events for the same table, from 1. */
  dataCollectionOrder: number;
};

/** A decoded change event. `Row` types `before`/`after`; this decoder does not check columns. */
export type DebeziumChange<Row = Record<string, unknown>> = {
  op: DebeziumOp;
  /**
   * Row before the change. With PostgreSQL's `REPLICA IDENTITY DEFAULT` only the key columns
   * carry data, and updates may have none (null); FULL gives the whole row.
   */
  before: Row | null;
  /** Row after the change; null for deletes. */
  after: Row | null;
  source: DebeziumSource;
  /** When the connector processed the event, ms since the epoch (the envelope's `ts_ms`). */
  tsMs: number;
  transaction?: DebeziumTransaction;
  /** An `op: m` event: a message written with `pg_logical_emit_message`; `content` is base64 as sent. */
  message?: { prefix: string; content: string };
  /**
   * A primary-key change: Debezium sends a delete of the old key (`newKey` set) and a create of
   * the new one (`oldKey` set), from its `__debezium.newkey` / `__debezium.oldkey` headers.
   */
  keyChange?: { newKey: Record<string, unknown> } | { oldKey: Record<string, unknown> };
  /**
   * Columns of `after` whose value the database did not send (PostgreSQL: an unchanged TOASTed
   * value, which Debezium marks with {@link UNAVAILABLE_VALUE}). They are absent from `after`,
   * never the placeholder; a table fills them from the row it holds.
   */
  unavailable?: string[];
};

/** What Debezium writes for a TOASTed column a change did not touch (PostgreSQL `unavailable.value.placeholder`). */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';
const UNAVAILABLE_BASE64 = Buffer.from(UNAVAILABLE_VALUE).toString('base64');

/** The placeholder as text columns carry it, bytea columns (base64) or arrays of either. */
export function isUnavailable(value: unknown): boolean {
  return value === UNAVAILABLE_VALUE || value === UNAVAILABLE_BASE64 || (Array.isArray(value) && value.length > 0 && value.every(isUnavailable));
}

const row = z.record(z.string(), z.unknown(), { error: 'expected an object (a row) or null' });

const sourceSchema = z.looseObject({
  connector: z.string(),
  name: z.string(),
  ts_ms: z.number().int(),
  snapshot: z.string().optional(),
  db: z.string(),
  table: z.string(),
  schema: z.string().optional(),
});

const transactionSchema = z.looseObject({
  id: z.string(),
  total_order: z.number().int(),
  data_collection_order: z.number().int(),
});

const envelopeSchema = z.object({
  op: z.enum(DEBEZIUM_OPS),
  before: row.nullish(),
  after: row.nullish(),
  source: sourceSchema,
  ts_ms: z.number().int(),
  transaction: transactionSchema.nullish(),
  message: z.object({ prefix: z.string(), content: z.string().nullable() }).nullish(),
});

/** Which row each op must carry. Truncate (`t`) and message (`m`) events carry none. */
const REQUIRED_ROW: Record<DebeziumOp, 'before' | 'after' | null> = {
  c: 'after',
  r: 'after',
  u: 'after',
  d: 'before',
  t: null,
  m: null,
};

/**
 * Decodes a change event value.
 *
 * @param value the record's value bytes; null is a tombstone (and so is a schema-wrapped
 *   `{"schema":…,"payload":null}`)
 * @param where names the record in errors, e.g. `ecommerce.public.orders[3]@1042`
 * @param record the record's key and headers: the key's columns make a delete's key-only
 *   `before` image exact, the headers tell a primary-key change
 * @returns the change, or null for a tombstone
 * @throws BadRecordError when the bytes are not JSON or the envelope fails a check
 */
export function decodeDebezium(value: Buffer | null, where: string, options: DebeziumDecodeOptions = {}, record: { key?: Buffer | null; headers?: Record<string, string> } = {}): DebeziumChange | null {
  if (value === null) return null;
  const { body, prefix, schema } = unwrapConnectJson(parseJson(value, where), where);
  if (body === null) return null;
  if (isPlainObject(body)) settleEnvelopeNumbers(body);

  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) throw badRecordFromZod(parsed.error, where, prefix);
  const envelope = parsed.data;

  const required = REQUIRED_ROW[envelope.op];
  if (required !== null && envelope[required] == null) {
    throw new BadRecordError(where, prefix + required, `op '${envelope.op}' requires a '${required}' row`);
  }
  const rowOf = (side: 'before' | 'after') => {
    let row = envelope[side] ?? null;
    if (row === null) return row;
    // REPLICA IDENTITY DEFAULT: a delete's before image carries the key; Debezium fills the other
    // columns with null or, for NOT NULL ones, a made-up default. Keep the key's columns only.
    if (side === 'before' && envelope.op === 'd' && options.replicaIdentity !== 'full' && record.key != null) {
      const keyColumns = Object.keys(decodeDebeziumKey(record.key, where) ?? {});
      if (keyColumns.length > 0) row = Object.fromEntries(Object.entries(row).filter(([column]) => keyColumns.includes(column)));
    }
    if (schema === undefined) return decodeUntyped(options.columns === undefined ? row : decodeDeclared(row, options.columns, where, `${prefix}${side}`, options), where, `${prefix}${side}`, options);
    const fields = rowFields(schema, side);
    return fields === undefined ? decodeUntyped(row, where, `${prefix}${side}`, options) : decodeLogicalTypes(row, fields, where, `${prefix}${side}`, options);
  };
  const change: DebeziumChange = {
    op: envelope.op,
    before: rowOf('before'),
    after: rowOf('after'),
    source: envelope.source,
    tsMs: envelope.ts_ms,
  };
  if (change.after !== null) {
    const unavailable = Object.keys(change.after).filter((column) => isUnavailable((change.after as Record<string, unknown>)[column]));
    if (unavailable.length > 0) {
      change.after = Object.fromEntries(Object.entries(change.after).filter(([column]) => !unavailable.includes(column)));
      change.unavailable = unavailable;
    }
  }
  if (envelope.transaction != null) change.transaction = toTransaction(envelope.transaction);
  if (envelope.op === 'm') {
    if (envelope.message == null) throw new BadRecordError(where, `${prefix}message`, "op 'm' requires a 'message' block");
    change.message = { prefix: envelope.message.prefix, content: envelope.message.content ?? '' };
  }
  const newKey = record.headers?.['__debezium.newkey'];
  const oldKey = record.headers?.['__debezium.oldkey'];
  if (newKey !== undefined) change.keyChange = { newKey: headerKey(newKey, where, '__debezium.newkey') };
  else if (oldKey !== undefined) change.keyChange = { oldKey: headerKey(oldKey, where, '__debezium.oldkey') };
  return change;
}

function headerKey(text: string, where: string, header: string): Record<string, unknown> {
  const { body } = unwrapConnectJson(parseJson(Buffer.from(text), where), where);
  if (!isPlainObject(body)) throw new BadRecordError(where, `headers.${header}`, `expected a JSON object, got ${describe(body)}`);
  return body;
}

/**
 * Decodes a change event key: the primary key columns as an object, e.g. `{"order_id": 7}`.
 *
 * @param key the record's key bytes; null for tables without a primary key
 * @param where names the record in errors
 * @returns the key columns, or null when the record has no key
 * @throws BadRecordError when the bytes are not JSON or not a JSON object
 */
export function decodeDebeziumKey(key: Buffer | null, where: string): Record<string, unknown> | null {
  if (key === null) return null;
  const { body, prefix } = unwrapConnectJson(parseJson(key, where), where);
  if (body === null) return null;
  if (!isPlainObject(body)) {
    throw new BadRecordError(where, prefix.replace(/\.$/, ''), `expected a JSON object, got ${describe(body)}`);
  }
  return body;
}

/**
 * A JSON number JSON.parse would round (beyond 2^53, or with more digits than a double keeps):
 * its exact text, until the schema says what the column is.
 */
class UnsafeNumber {
  constructor(readonly text: string) {}
}

/** 16 digits or more in a row, other than the envelope's `ts_ns` (always 19 digits, never a column). */
const LONG_DIGITS = /(?<!"ts_ns":)(?<![\d.])-?\d{16,}/;

function parseJson(bytes: Buffer, where: string): unknown {
  const text = bytes.toString('utf8');
  try {
    // Most records have no number JSON.parse could round: parse them the fast way.
    if (!LONG_DIGITS.test(text)) return JSON.parse(text) as unknown;
    return parseLossless(text, null, (digits) => (isSafeNumber(digits) ? Number(digits) : new UnsafeNumber(digits)));
  } catch (thrown) {
    const reason = thrown instanceof Error ? thrown.message : String(thrown);
    throw new BadRecordError(where, '', `not valid JSON: ${reason}`);
  }
}

/** Envelope and source numbers (`ts_ns`, `lsn`, ...) as JSON.parse gives them; only row values need exactness. */
function settleEnvelopeNumbers(envelope: Record<string, unknown>): void {
  const settle = (block: Record<string, unknown>) => {
    for (const [field, value] of Object.entries(block)) if (value instanceof UnsafeNumber) block[field] = Number(value.text);
  };
  settle(envelope);
  if (isPlainObject(envelope.source)) settle(envelope.source);
}

/**
 * Strips JsonConverter's `schemas.enable=true` wrapping. A wrapped record is an object with
 * exactly the keys `schema` and `payload`; an envelope never has that shape, and a key would
 * only if its table's primary key were the two columns `schema` and `payload`.
 */
function unwrapConnectJson(parsed: unknown, where: string): { body: unknown; prefix: string; schema?: ConnectSchema } {
  if (!isPlainObject(parsed)) {
    throw new BadRecordError(where, '', `expected a JSON object, got ${describe(parsed)}`);
  }
  const keys = Object.keys(parsed);
  const wrapped = keys.length === 2 && 'schema' in parsed && 'payload' in parsed;
  if (!wrapped) return { body: parsed, prefix: '' };
  return isPlainObject(parsed.schema) ? { body: parsed.payload, prefix: 'payload.', schema: parsed.schema } : { body: parsed.payload, prefix: 'payload.' };
}

/** Options of {@link decodeDebezium}. */
export interface DebeziumDecodeOptions {
  /**
   * How `DECIMAL`/`NUMERIC` columns sent exactly (`decimal.handling.mode=precise`, described by
   * the record's schema) come out: `number` (default) when the value has at most 15 significant
   * digits, which a JavaScript number holds exactly (a longer one is a dead letter saying so),
   * or `string`, the exact decimal text (`"19.99"`) whatever its length.
   */
  decimals?: 'number' | 'string';
  /**
   * Column types the record cannot tell without its schema (the JsonConverter's
   * `schemas.enable=false`), by column name: `{ price: { decimal: 2 } }` for a `DECIMAL(10,2)`.
   * `sentAs` is how Debezium's `decimal.handling.mode` sent it: `bytes` (`precise`, the default:
   * base64 of the unscaled value), `text` (`string`: `"24.99"`) or `double` (a JSON number, which
   * may already be inexact). Records with a schema are decoded by the schema instead.
   */
  columns?: Record<string, DeclaredColumn>;
  /**
   * Integers beyond 2^53 (BIGINT, int64), which a JavaScript number cannot hold: `number`
   * (default) makes such a value a dead letter naming the column; `string` reads every int64
   * column as its exact decimal text (without the schema: only the values beyond 2^53).
   */
  int64?: 'number' | 'string';
  /**
   * Debezium's temporal types (with the schema): `raw` (default) keeps what Debezium sends (days
   * since the epoch for `Date`; ms, µs or ns since midnight or the epoch for `Time`, `MicroTime`,
   * `NanoTime`, `Timestamp`, `MicroTimestamp`, `NanoTimestamp`); `iso` gives ISO-8601 text at the
   * column's precision (`2026-12-01`, `10:00:00.123456`, `2026-12-01T10:00:00.123456`, local
   * time as the column holds it). `ZonedTimestamp`, `ZonedTime` and `Interval` are text either
   * way; PostgreSQL's `infinity` / `-infinity` timestamps come out as those words in both.
   */
  temporal?: 'raw' | 'iso';
  /**
   * The source table's replica identity. `default` (PostgreSQL's default): a delete's `before`
   * holds only the key's columns (Debezium fills the others with null or made-up defaults, which
   * are dropped). `full`: `before` is the whole row.
   */
  replicaIdentity?: 'default' | 'full';
}

/** A column's type, declared for records without a schema (see {@link DebeziumDecodeOptions.columns}). */
export type DeclaredColumn = { decimal: number; sentAs?: 'bytes' | 'text' | 'double' };

/** A Kafka Connect schema as JsonConverter writes it (`schemas.enable=true`). */
type ConnectSchema = { type?: string; name?: string; field?: string; parameters?: Record<string, string>; fields?: ConnectSchema[] };

/** Kafka Connect's exact decimal: two's-complement big-endian bytes of the unscaled value, base64; the scale is a schema parameter. */
const CONNECT_DECIMAL = 'org.apache.kafka.connect.data.Decimal';
/** Debezium's decimal of a column without a fixed scale (`NUMERIC` without precision): a struct of `scale` and `value`. */
const VARIABLE_SCALE_DECIMAL = 'io.debezium.data.VariableScaleDecimal';

function rowFields(schema: ConnectSchema, side: 'before' | 'after'): ConnectSchema[] | undefined {
  return schema.fields?.find((f) => f.field === side)?.fields;
}

/** The row with each column decoded as its schema describes it (see {@link DebeziumDecodeOptions}). */
function decodeLogicalTypes(row: Record<string, unknown>, fields: readonly ConnectSchema[], where: string, path: string, options: DebeziumDecodeOptions): Record<string, unknown> {
  const byName = new Map(fields.map((f) => [f.field, f]));
  let decoded: Record<string, unknown> | undefined;
  for (const [column, value] of Object.entries(row)) {
    if (value === null || value === undefined) continue;
    const field = byName.get(column);
    const next = field === undefined ? exactValue(value, where, `${path}.${column}`, options) : decodeColumn(field, value, where, `${path}.${column}`, options);
    if (next === value) continue;
    decoded ??= { ...row };
    decoded[column] = next;
  }
  return decoded ?? row;
}

/** A row without a schema: only numbers JSON.parse would have rounded need a decision. */
function decodeUntyped(row: Record<string, unknown>, where: string, path: string, options: DebeziumDecodeOptions): Record<string, unknown> {
  let decoded: Record<string, unknown> | undefined;
  for (const [column, value] of Object.entries(row)) {
    const next = exactValue(value, where, `${path}.${column}`, options);
    if (next === value) continue;
    decoded ??= { ...row };
    decoded[column] = next;
  }
  return decoded ?? row;
}

/** A value with any too-long number in it settled: a fraction as the double it is, an integer by the int64 option. */
function exactValue(value: unknown, where: string, field: string, options: DebeziumDecodeOptions): unknown {
  if (value instanceof UnsafeNumber) return /[.eE]/.test(value.text) ? Number(value.text) : int64Of(value.text, where, field, options);
  if (Array.isArray(value)) return value.some((v) => typeof v === 'object' && v !== null) ? value.map((v, i) => exactValue(v, where, `${field}[${i}]`, options)) : value;
  return value;
}

function int64Of(text: string, where: string, field: string, options: DebeziumDecodeOptions): number | string {
  if (options.int64 === 'string') return text;
  throw new BadRecordError(where, field, `integer ${text} is beyond 2^53 (9007199254740991), more than a JavaScript number holds exactly; read such columns as text with debezium({ int64: 'string' })`);
}

const TIME_UNITS: Record<string, { perSecond: bigint; digits: number; kind: 'time' | 'timestamp' }> = {
  'io.debezium.time.Time': { perSecond: 1_000n, digits: 3, kind: 'time' },
  'org.apache.kafka.connect.data.Time': { perSecond: 1_000n, digits: 3, kind: 'time' },
  'io.debezium.time.MicroTime': { perSecond: 1_000_000n, digits: 6, kind: 'time' },
  'io.debezium.time.NanoTime': { perSecond: 1_000_000_000n, digits: 9, kind: 'time' },
  'io.debezium.time.Timestamp': { perSecond: 1_000n, digits: 3, kind: 'timestamp' },
  'org.apache.kafka.connect.data.Timestamp': { perSecond: 1_000n, digits: 3, kind: 'timestamp' },
  'io.debezium.time.MicroTimestamp': { perSecond: 1_000_000n, digits: 6, kind: 'timestamp' },
  'io.debezium.time.NanoTimestamp': { perSecond: 1_000_000_000n, digits: 9, kind: 'timestamp' },
};

/**
 * PostgreSQL's JDBC driver's infinity timestamps (PGStatement.DATE_POSITIVE_INFINITY and
 * _NEGATIVE_, in ms), as Debezium passes them on: divided to ms for `Timestamp`, as they are for
 * `MicroTimestamp`. Seen from the real connector (test/integration/debezium-postgres.test.ts).
 */
const INFINITY_SENTINELS = new Map<bigint, string>([
  [9_223_372_036_825_200n, 'infinity'],
  [-9_223_372_036_832_400n, '-infinity'],
  [9_223_372_036_825_200_000n, 'infinity'],
  [-9_223_372_036_832_400_000n, '-infinity'],
]);

/** PostgreSQL's dates run from 4713 BC to 5874897 AD: in days since 1970-01-01. */
const PG_DATE_DAYS = { min: -2_440_588, max: 2_145_031_948 };

function decodeColumn(field: ConnectSchema, value: unknown, where: string, path: string, options: DebeziumDecodeOptions): unknown {
  const name = field.name ?? '';
  if (name === CONNECT_DECIMAL) return decimalOf(value, Number(field.parameters?.scale), where, path, options);
  if (name === VARIABLE_SCALE_DECIMAL) return isPlainObject(value) ? decimalOf(value.value, Number(value.scale), where, path, options) : value;
  if (name === 'io.debezium.time.Date' || name === 'org.apache.kafka.connect.data.Date') return dateOf(value, where, path, options);
  const unit = TIME_UNITS[name];
  if (unit !== undefined) return temporalOf(value, unit, where, path, options);
  if (field.type === 'int64' && name === '' && options.int64 === 'string') return value instanceof UnsafeNumber ? value.text : String(value);
  return exactValue(value, where, path, options);
}

function integerOf(value: unknown, where: string, path: string): bigint {
  if (value instanceof UnsafeNumber) return BigInt(value.text);
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new BadRecordError(where, path, `expected an integer for this temporal column, got ${describe(value)}`);
}

function dateOf(value: unknown, where: string, path: string, options: DebeziumDecodeOptions): unknown {
  const days = Number(integerOf(value, where, path));
  if (days < PG_DATE_DAYS.min || days > PG_DATE_DAYS.max) {
    throw new BadRecordError(where, path, `date ${days} days from 1970-01-01 is outside PostgreSQL's range: Debezium's encoding of a DATE 'infinity' or '-infinity', which it does not tell apart`);
  }
  return options.temporal === 'iso' ? isoDate(BigInt(days) * 86_400n, where, path) : days;
}

function temporalOf(value: unknown, unit: { perSecond: bigint; digits: number; kind: 'time' | 'timestamp' }, where: string, path: string, options: DebeziumDecodeOptions): unknown {
  const ticks = integerOf(value, where, path);
  if (unit.kind === 'timestamp') {
    const infinity = INFINITY_SENTINELS.get(ticks);
    if (infinity !== undefined) return infinity;
  }
  if (options.temporal !== 'iso') return value instanceof UnsafeNumber ? int64Of(value.text, where, path, options) : value;
  const seconds = ticks >= 0n ? ticks / unit.perSecond : -((-ticks + unit.perSecond - 1n) / unit.perSecond); // floor
  const fraction = (ticks - seconds * unit.perSecond).toString().padStart(unit.digits, '0');
  if (unit.kind === 'time') {
    const clock = [seconds / 3600n, (seconds / 60n) % 60n, seconds % 60n].map((n) => n.toString().padStart(2, '0')).join(':');
    return `${clock}.${fraction}`;
  }
  const date = isoDate(seconds, where, path);
  const clock = [((seconds % 86_400n) + 86_400n) % 86_400n].map((s) => [s / 3600n, (s / 60n) % 60n, s % 60n].map((n) => n.toString().padStart(2, '0')).join(':'))[0] as string;
  return `${date}T${clock}.${fraction}`;
}

/** The calendar date of `seconds` since the epoch (UTC), years past 9999 with their sign as ISO-8601 extends them. */
function isoDate(seconds: bigint, where: string, path: string): string {
  const days = seconds >= 0n ? seconds / 86_400n : -((-seconds + 86_399n) / 86_400n);
  const date = new Date(Number(days) * 86_400_000);
  if (Number.isNaN(date.getTime())) throw new BadRecordError(where, path, `date ${days} days from 1970-01-01 is beyond what JavaScript dates hold (±275,760 years); read it raw with debezium({ temporal: 'raw' })`);
  return date.toISOString().split('T')[0] as string;
}

/** The row with its declared columns decoded; undeclared columns stay. */
function decodeDeclared(row: Record<string, unknown>, columns: Record<string, DeclaredColumn>, where: string, path: string, options: DebeziumDecodeOptions): Record<string, unknown> {
  let decoded: Record<string, unknown> | undefined;
  for (const [column, declared] of Object.entries(columns)) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    const field = `${path}.${column}`;
    const sentAs = declared.sentAs ?? 'bytes';
    let next: unknown;
    if (sentAs === 'double') {
      if (value instanceof UnsafeNumber) {
        next = options.decimals === 'string' ? Number(value.text).toFixed(declared.decimal) : Number(value.text);
        decoded ??= { ...row };
        decoded[column] = next;
        continue;
      }
      if (typeof value !== 'number') throw new BadRecordError(where, field, `declared as a decimal sent as a double, got ${describe(value)}`);
      next = options.decimals === 'string' ? value.toFixed(declared.decimal) : value;
    } else if (sentAs === 'text') {
      if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) throw new BadRecordError(where, field, `declared as a decimal sent as text, got ${JSON.stringify(value)}`);
      next = exactDecimal(value, where, field, options);
    } else {
      if (typeof value !== 'string') throw new BadRecordError(where, field, `declared as a decimal sent as bytes (decimal.handling.mode=precise), got ${describe(value)}; declare sentAs 'double' or 'text' for the other modes`);
      next = decimalOf(value, declared.decimal, where, field, options);
    }
    decoded ??= { ...row };
    decoded[column] = next;
  }
  return decoded ?? row;
}

function decimalOf(encoded: unknown, scale: number, where: string, field: string, options: DebeziumDecodeOptions): number | string {
  if (typeof encoded === 'number') return encoded; // a column Debezium sent as a double after all
  if (encoded instanceof UnsafeNumber) return Number(encoded.text);
  if (typeof encoded !== 'string') throw new BadRecordError(where, field, `an exact decimal must be base64 text, got ${describe(encoded)}`);
  if (!Number.isInteger(scale) || scale < 0) throw new BadRecordError(where, field, `the schema gives no usable scale for this decimal (${String(scale)})`);
  if (encoded.length === 0 || encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new BadRecordError(where, field, `'${encoded}' is not the base64 of a decimal's unscaled value`);
  }
  const bytes = Buffer.from(encoded, 'base64');
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (((bytes[0] as number) & 0x80) !== 0) unscaled -= 1n << BigInt(bytes.length * 8); // two's complement
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = `${unscaled < 0n ? '-' : ''}${scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`}`;
  return exactDecimal(text, where, field, options);
}

/** Decimal text as the option asks: itself, or a number when a JavaScript number holds it exactly. */
function exactDecimal(text: string, where: string, field: string, options: DebeziumDecodeOptions): number | string {
  if (options.decimals === 'string') return text;
  const significant = text.replace(/[-.]/g, '').replace(/^0+/, '').length;
  if (significant > 15) {
    throw new BadRecordError(where, field, `decimal ${text} has ${significant} significant digits, more than a JavaScript number holds exactly; read decimals as text with debezium({ decimals: 'string' })`);
  }
  return Number(text);
}

function badRecordFromZod(error: z.ZodError, where: string, prefix: string): BadRecordError {
  const issue = error.issues[0];
  if (issue === undefined) return new BadRecordError(where, prefix.replace(/\.$/, ''), 'failed validation');
  const field = prefix + issue.path.map(String).join('.');
  return new BadRecordError(where, field.replace(/\.$/, ''), issue.message);
}

function toTransaction(block: z.infer<typeof transactionSchema>): DebeziumTransaction {
  return { id: block.id, totalOrder: block.total_order, dataCollectionOrder: block.data_collection_order };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

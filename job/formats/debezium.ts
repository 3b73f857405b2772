/**
 * Decodes Debezium change events as Kafka Connect's JsonConverter writes them. This is the
 * parsing half of the Job API's `debezium()` source format: it turns a record's bytes into a
 * typed {@link DebeziumChange}, or throws a {@link BadRecordError} that names the record, the
 * field and the reason, so that the caller can dead-letter the original bytes (bad input is
 * terminal for the record, never for the task).
 *
 * Both converter settings are accepted: `schemas.enable=true` (`{"schema":…,"payload":…}`) and
 * `schemas.enable=false` (the envelope itself). Column values are not interpreted here; `before`
 * and `after` are passed through as parsed JSON.
 */
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
};

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
 * @returns the change, or null for a tombstone
 * @throws BadRecordError when the bytes are not JSON or the envelope fails a check
 */
export function decodeDebezium(value: Buffer | null, where: string, options: DebeziumDecodeOptions = {}): DebeziumChange | null {
  if (value === null) return null;
  const { body, prefix, schema } = unwrapConnectJson(parseJson(value, where), where);
  if (body === null) return null;

  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) throw badRecordFromZod(parsed.error, where, prefix);
  const envelope = parsed.data;

  const required = REQUIRED_ROW[envelope.op];
  if (required !== null && envelope[required] == null) {
    throw new BadRecordError(where, prefix + required, `op '${envelope.op}' requires a '${required}' row`);
  }
  const rowOf = (side: 'before' | 'after') => {
    const row = envelope[side] ?? null;
    if (row === null) return row;
    if (schema === undefined) return options.columns === undefined ? row : decodeDeclared(row, options.columns, where, `${prefix}${side}`, options);
    const fields = rowFields(schema, side);
    return fields === undefined ? row : decodeLogicalTypes(row, fields, where, `${prefix}${side}`, options);
  };
  const change: DebeziumChange = {
    op: envelope.op,
    before: rowOf('before'),
    after: rowOf('after'),
    source: envelope.source,
    tsMs: envelope.ts_ms,
  };
  if (envelope.transaction != null) change.transaction = toTransaction(envelope.transaction);
  return change;
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

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (thrown) {
    const reason = thrown instanceof Error ? thrown.message : String(thrown);
    throw new BadRecordError(where, '', `not valid JSON: ${reason}`);
  }
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

/** The row with its exact decimals decoded, as the schema describes them; other columns stay. */
function decodeLogicalTypes(row: Record<string, unknown>, fields: readonly ConnectSchema[], where: string, path: string, options: DebeziumDecodeOptions): Record<string, unknown> {
  let decoded: Record<string, unknown> | undefined;
  for (const field of fields) {
    const column = field.field;
    if (column === undefined || !(column in row)) continue;
    const value = row[column];
    if (value === null || value === undefined) continue;
    let next: unknown;
    if (field.name === CONNECT_DECIMAL) next = decimalOf(value, Number(field.parameters?.scale), where, `${path}.${column}`, options);
    else if (field.name === VARIABLE_SCALE_DECIMAL && isPlainObject(value)) next = decimalOf(value.value, Number(value.scale), where, `${path}.${column}`, options);
    else continue;
    decoded ??= { ...row };
    decoded[column] = next;
  }
  return decoded ?? row;
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

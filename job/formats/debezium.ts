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
export function decodeDebezium(value: Buffer | null, where: string): DebeziumChange | null {
  if (value === null) return null;
  const { body, prefix } = unwrapConnectJson(parseJson(value, where), where);
  if (body === null) return null;

  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) throw badRecordFromZod(parsed.error, where, prefix);
  const envelope = parsed.data;

  const required = REQUIRED_ROW[envelope.op];
  if (required !== null && envelope[required] == null) {
    throw new BadRecordError(where, prefix + required, `op '${envelope.op}' requires a '${required}' row`);
  }
  const change: DebeziumChange = {
    op: envelope.op,
    before: envelope.before ?? null,
    after: envelope.after ?? null,
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
function unwrapConnectJson(parsed: unknown, where: string): { body: unknown; prefix: string } {
  if (!isPlainObject(parsed)) {
    throw new BadRecordError(where, '', `expected a JSON object, got ${describe(parsed)}`);
  }
  const keys = Object.keys(parsed);
  const wrapped = keys.length === 2 && 'schema' in parsed && 'payload' in parsed;
  return wrapped ? { body: parsed.payload, prefix: 'payload.' } : { body: parsed, prefix: '' };
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

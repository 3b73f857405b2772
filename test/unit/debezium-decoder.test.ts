import { describe, it, expect } from 'vitest';
import { BadRecordError } from '../../common/errors.ts';
import { decodeDebezium, decodeDebeziumKey } from '../../job/formats/debezium.ts';

const WHERE = 'ecommerce.public.orders[3]@1042';

const envelope = {
  before: null,
  after: { order_id: 7, user_id: 3, total_amount: 42.5, status: 'pending' },
  source: {
    version: '3.1.0.Final',
    connector: 'postgresql',
    name: 'ecommerce',
    ts_ms: 1735689600000,
    snapshot: 'false',
    db: 'ecommerce',
    sequence: '["24023128","24023242"]',
    schema: 'public',
    table: 'orders',
    txId: 770,
    lsn: 24023242,
    xmin: null,
  },
  transaction: null,
  op: 'c',
  ts_ms: 1735689600006,
};

const bytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const wrapped = (payload: unknown): Buffer => bytes({ schema: { type: 'struct', optional: false, name: 'x.Envelope' }, payload });

function badRecord(run: () => unknown): BadRecordError {
  try {
    run();
  } catch (thrown) {
    expect(thrown).toBeInstanceOf(BadRecordError);
    return thrown as BadRecordError;
  }
  throw new Error('expected a BadRecordError');
}

describe('decodeDebezium', () => {
  it('decodes an envelope without schema wrapping', () => {
    const change = decodeDebezium(bytes(envelope), WHERE);
    expect(change).toEqual({
      op: 'c',
      before: null,
      after: envelope.after,
      source: envelope.source,
      tsMs: 1735689600006,
    });
  });

  it('decodes an envelope wrapped as {schema, payload}', () => {
    const change = decodeDebezium(wrapped(envelope), WHERE);
    expect(change?.op).toBe('c');
    expect(change?.after).toEqual(envelope.after);
    expect(change?.source.table).toBe('orders');
    expect(change?.source.lsn).toBe(24023242);
  });

  it('returns null for a tombstone, bare or schema-wrapped', () => {
    expect(decodeDebezium(null, WHERE)).toBeNull();
    expect(decodeDebezium(bytes({ schema: null, payload: null }), WHERE)).toBeNull();
  });

  it('maps transaction metadata', () => {
    const change = decodeDebezium(bytes({ ...envelope, transaction: { id: '770:24023242', total_order: 2, data_collection_order: 1 } }), WHERE);
    expect(change?.transaction).toEqual({ id: '770:24023242', totalOrder: 2, dataCollectionOrder: 1 });
  });

  it('accepts truncate events without rows', () => {
    const change = decodeDebezium(bytes({ ...envelope, op: 't', after: null }), WHERE);
    expect(change).toMatchObject({ op: 't', before: null, after: null });
  });

  it('rejects bad JSON, naming the record and the whole record as the field', () => {
    const error = badRecord(() => decodeDebezium(Buffer.from('{"op":'), WHERE));
    expect(error.record).toBe(WHERE);
    expect(error.field).toBe('');
    expect(error.reason).toMatch(/not valid JSON/);
  });

  it('rejects a JSON value that is not an object', () => {
    const error = badRecord(() => decodeDebezium(bytes([1, 2]), WHERE));
    expect(error.field).toBe('');
    expect(error.reason).toMatch(/array/);
  });

  it('rejects an unknown op, with the dotted path inside the wrapping', () => {
    const plain = badRecord(() => decodeDebezium(bytes({ ...envelope, op: 'x' }), WHERE));
    expect(plain.record).toBe(WHERE);
    expect(plain.field).toBe('op');
    const inWrapping = badRecord(() => decodeDebezium(wrapped({ ...envelope, op: 'x' }), WHERE));
    expect(inWrapping.field).toBe('payload.op');
  });

  it('rejects a create without an after row', () => {
    const error = badRecord(() => decodeDebezium(wrapped({ ...envelope, after: null }), WHERE));
    expect(error.record).toBe(WHERE);
    expect(error.field).toBe('payload.after');
    expect(error.reason).toMatch(/op 'c' requires/);
  });

  it('rejects a delete without a before row and an update without an after row', () => {
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, op: 'd', after: null }), WHERE)).field).toBe('before');
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, op: 'u', before: { order_id: 7 }, after: null }), WHERE)).field).toBe('after');
  });

  it('rejects a malformed source block field by field', () => {
    const { ts_ms: _dropped, ...withoutTs } = envelope.source;
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, source: withoutTs }), WHERE)).field).toBe('source.ts_ms');
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, source: { ...envelope.source, snapshot: true } }), WHERE)).field)
      .toBe('source.snapshot');
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, after: [1] }), WHERE)).field).toBe('after');
    expect(badRecord(() => decodeDebezium(bytes({ ...envelope, ts_ms: '1' }), WHERE)).field).toBe('ts_ms');
  });

  it('accepts a source without snapshot and schema', () => {
    const { snapshot: _s, schema: _schema, ...source } = envelope.source;
    expect(decodeDebezium(bytes({ ...envelope, source }), WHERE)?.source.snapshot).toBeUndefined();
  });
});

describe('decodeDebeziumKey', () => {
  it('decodes keys with and without schema wrapping', () => {
    expect(decodeDebeziumKey(bytes({ order_id: 7 }), WHERE)).toEqual({ order_id: 7 });
    expect(decodeDebeziumKey(wrapped({ order_id: 7 }), WHERE)).toEqual({ order_id: 7 });
    expect(decodeDebeziumKey(null, WHERE)).toBeNull();
  });

  it('rejects bad JSON and non-object keys', () => {
    expect(badRecord(() => decodeDebeziumKey(Buffer.from('7}'), WHERE)).field).toBe('');
    const error = badRecord(() => decodeDebeziumKey(wrapped(7), WHERE));
    expect(error.field).toBe('payload');
    expect(error.record).toBe(WHERE);
  });

  // Neither the PostgreSQL nor the MariaDB connector sends ns types (their columns hold µs at
  // most; Debezium's Oracle and SQL Server connectors do), so this one case is written by hand.
  it('decodes NanoTimestamp and NanoTime beyond 2^53 exactly, as ISO text or as a dead letter', () => {
    const schema = {
      type: 'struct', optional: false, name: 'x.Envelope',
      fields: [{ field: 'after', type: 'struct', optional: true, fields: [
        { field: 'at', type: 'int64', optional: true, name: 'io.debezium.time.NanoTimestamp' },
        { field: 'clock', type: 'int64', optional: true, name: 'io.debezium.time.NanoTime' },
      ] }],
    };
    const text = `{"schema":${JSON.stringify(schema)},"payload":${JSON.stringify({ ...envelope, after: { at: 0, clock: 0 } }).replace('"at":0', '"at":1796119200123456789').replace('"clock":0', '"clock":36000123456789')}}`;
    expect(decodeDebezium(Buffer.from(text), WHERE, { temporal: 'iso' })?.after).toEqual({ at: '2026-12-01T10:00:00.123456789', clock: '10:00:00.123456789' });
    expect(badRecord(() => decodeDebezium(Buffer.from(text), WHERE)).field).toBe('payload.after.at');
    expect(decodeDebezium(Buffer.from(text), WHERE, { int64: 'string' })?.after).toEqual({ at: '1796119200123456789', clock: 36000123456789 });
  });
});

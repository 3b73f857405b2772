/**
 * The built-in source formats: how a Kafka record's value becomes what actors receive. Each one
 * skips tombstones (null values) and throws a BadRecordError naming the record, field and reason
 * for anything it cannot decode, so the runtime dead-letters the original bytes and moves on.
 */
import { BadRecordError } from '../../common/errors.ts';
import { decodeDebezium, type DebeziumChange, type DebeziumDecodeOptions } from '../formats/debezium.ts';
import type { SourceRecord } from '../contract/records.ts';
import type { SourceFormat } from '../contract/job.ts';

/** Options of {@link debezium}. */
export interface DebeziumFormatOptions<Row> extends DebeziumDecodeOptions {
  /**
   * Checks the row after each change (`after`; deletes have none), e.g. `rules<Row>({...})`:
   * a row that fails goes to the dead letters with every reason, its field paths under `after`.
   */
  validate?: (row: unknown, where: string, path?: string) => Row;
}

/**
 * Debezium change events (Kafka Connect JsonConverter, with or without schemas). With the
 * schema, exact decimals (`decimal.handling.mode=precise`: `Decimal`, `VariableScaleDecimal`)
 * are decoded to numbers, or to text with `decimals: 'string'`.
 * Tombstones, including those that follow deletes, are skipped.
 *
 * @typeParam Row the table's row type, for `before` and `after` (checked only through `validate`)
 */
export function debezium<Row = Record<string, unknown>>(options: DebeziumFormatOptions<Row> = {}): SourceFormat<DebeziumChange<Row>> {
  const { validate } = options;
  const { validate: _validate, ...decoding } = options;
  return Object.freeze({
    name: 'debezium',
    decode(record: SourceRecord, where: string): DebeziumChange<Row> | null {
      const key = record.key === null ? null : asBuffer(record.key);
      const change = decodeDebezium(record.value === null ? null : asBuffer(record.value), where, decoding, { key, headers: record.headers }) as DebeziumChange<Row> | null;
      if (change !== null && validate !== undefined && change.after !== null) validate(change.after, where, 'after');
      return change;
    },
  });
}

/** Options of {@link json}. */
export interface JsonFormatOptions<T> {
  /**
   * Checks the parsed value and returns it typed. Throw a BadRecordError (with `where` as its
   * record) to dead-letter the record with the bad field named. Without it, the parsed value is
   * trusted to be a `T`.
   */
  validate?: (value: unknown, where: string) => T;
}

/** UTF-8 JSON values. A null value is skipped. */
export function json<T = unknown>(options: JsonFormatOptions<T> = {}): SourceFormat<T> {
  const { validate } = options;
  return Object.freeze({
    name: 'json',
    decode(record: SourceRecord, where: string): T | null {
      if (record.value === null) return null;
      const text = utf8(record.value, where);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (thrown) {
        throw new BadRecordError(where, '', `not valid JSON: ${thrown instanceof Error ? thrown.message : String(thrown)}`);
      }
      return validate === undefined ? (parsed as T) : validate(parsed, where);
    },
  });
}

/** UTF-8 text values. A null value is skipped; bytes that are not UTF-8 are a bad record. */
export function text(): SourceFormat<string> {
  return Object.freeze({
    name: 'text',
    decode: (record: SourceRecord, where: string) => (record.value === null ? null : utf8(record.value, where)),
  });
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes: Uint8Array, where: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new BadRecordError(where, '', 'value is not valid UTF-8');
  }
}

/** A Buffer over the same memory (records that crossed a thread boundary arrive as plain Uint8Arrays). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

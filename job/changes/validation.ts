/**
 * Declarative validation of records: required fields, types, ranges, allowed values and custom
 * checks, each failure named by field. A record that fails any rule fails with *every* reason at
 * once (a BadRecordError whose field lists the bad fields and whose reason lists the failures),
 * so the runtime dead-letters its original bytes and source position with all of them, and
 * counts it as `invalid.<source>`. Attach rules to a format: `json({ validate: rules })` or
 * `debezium({ validate: rules })` (applied to the row after the change).
 */
import { BadRecordError } from '../../common/errors.ts';

/** The JSON types a field can be checked for; `integer` is a number with no fraction. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** What {@link rules} takes. Field names are top-level fields of the record (or row). */
export interface RuleSpec<Row> {
  /** Fields that must be present and not null. */
  required?: readonly (keyof Row & string)[];
  /** The type of each field when present and not null. */
  types?: Partial<Record<keyof Row & string, FieldType>>;
  /** Inclusive bounds of numeric fields when present and not null; `positive` means > 0. */
  ranges?: Partial<Record<keyof Row & string, { min?: number; max?: number; positive?: boolean }>>;
  /** The values a field may take when present and not null. */
  allowed?: Partial<Record<keyof Row & string, readonly (string | number | boolean)[]>>;
  /** Further checks across fields: return a failure as `[field, reason]`, or null. */
  checks?: readonly ((row: Row) => readonly [string, string] | null)[];
}

/** Checks a decoded value and returns it typed; throws a BadRecordError naming every failure. */
export type Validator<Row> = (value: unknown, where: string, path?: string) => Row;

/**
 * Compiles validation rules.
 *
 * ```ts
 * const valid = rules<EngagementEvent>({
 *   required: ['id', 'content_id', 'event_type'],
 *   types: { duration_ms: 'integer' },
 *   ranges: { duration_ms: { min: 0 } },
 *   allowed: { event_type: ['play', 'pause', 'finish', 'click'] },
 * });
 * kafkaSource(topic, { format: debezium<EngagementEvent>({ validate: valid }) });
 * ```
 */
export function rules<Row>(spec: RuleSpec<Row>): Validator<Row> {
  return (value, where, path = '') => {
    const at = (field: string) => (path === '' ? field : `${path}.${field}`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRecordError(where, path, 'expected an object');
    const row = value as Record<string, unknown>;
    const failures: [string, string][] = [];
    for (const field of spec.required ?? []) if (row[field] === undefined || row[field] === null) failures.push([at(field), 'is required']);
    for (const [field, type] of Object.entries(spec.types ?? {}) as [string, FieldType][]) {
      const v = row[field];
      if (v !== undefined && v !== null && !hasType(v, type)) failures.push([at(field), `must be ${article(type)}, got ${JSON.stringify(v)}`]);
    }
    for (const [field, range] of Object.entries(spec.ranges ?? {}) as [string, { min?: number; max?: number; positive?: boolean }][]) {
      const v = row[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) failures.push([at(field), `must be a number, got ${JSON.stringify(v)}`]);
      else if (range.positive === true && v <= 0) failures.push([at(field), `must be positive, got ${v}`]);
      else if (range.min !== undefined && v < range.min) failures.push([at(field), `must be ≥ ${range.min}, got ${v}`]);
      else if (range.max !== undefined && v > range.max) failures.push([at(field), `must be ≤ ${range.max}, got ${v}`]);
    }
    for (const [field, values] of Object.entries(spec.allowed ?? {}) as [string, readonly unknown[]][]) {
      const v = row[field];
      if (v !== undefined && v !== null && !values.includes(v)) failures.push([at(field), `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`]);
    }
    if (failures.length === 0) {
      for (const check of spec.checks ?? []) {
        const failure = check(row as Row);
        if (failure !== null) failures.push([at(failure[0]), failure[1]]);
      }
    }
    if (failures.length > 0) {
      throw new BadRecordError(where, failures.map(([field]) => field).join(','), failures.map(([field, reason]) => `${field} ${reason}`).join('; '));
    }
    return row as Row;
  };
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'integer':
      return Number.isSafeInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

function article(type: FieldType): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}

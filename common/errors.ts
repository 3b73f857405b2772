/**
 * Error kinds kept apart (STYLE.md): bad input is terminal for the record, a missing
 * prerequisite is terminal for the process (with one sentence telling what to install),
 * and anything else is a bug or a transient failure handled where it happens.
 */

/** Turns whatever was thrown into an Error, so callers never handle `unknown`. */
export function ensureError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : JSON.stringify(thrown));
}

/** Configuration that cannot be used; the message names the setting and the reason. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A tool Eddy needs on this machine is missing; the message says what to install. */
export class MissingPrerequisiteError extends Error {
  override readonly name = 'MissingPrerequisiteError';
}

/** A checkpoint that cannot be re-sharded; the message names the task, the entry and the reason. */
export class RescaleRefusedError extends Error {
  override readonly name = 'RescaleRefusedError';
}

/** A record that cannot be decoded. Names the record, the field and the reason. */
export class BadRecordError extends Error {
  override readonly name = 'BadRecordError';
  constructor(
    /** Where the record came from, e.g. `ecommerce.public.orders[3]@1042`. */
    readonly record: string,
    /** Dotted path of the offending field, e.g. `payload.source.table`; empty for the whole record. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`bad record ${record}: ${field === '' ? 'record' : `field '${field}'`}: ${reason}`);
  }
}

/** A lifecycle transition that must not happen (a bug). */
export class IllegalStateError extends Error {
  override readonly name = 'IllegalStateError';
}

/**
 * An error thrown by job code (a handler, `key`, `initial`, `eventTime`) or caused by what it
 * returned. The runtime dead-letters the record (or drops the timer) for these and rolls the
 * key back; any other error is Eddy's own and fails the request, so the task is restored.
 */
import { ensureError } from '../../common/errors.ts';

export class UserCodeError extends Error {
  override readonly name = 'UserCodeError';
  constructor(
    /** Which piece of job code, e.g. `handler`, `key()`. */
    readonly where: string,
    thrown: unknown,
  ) {
    const cause = ensureError(thrown);
    super(`${where} threw: ${cause.message}`, { cause });
  }
}

/** Runs job code, turning whatever it throws into a {@link UserCodeError}. */
export function userCode<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (thrown) {
    throw thrown instanceof UserCodeError ? thrown : new UserCodeError(where, thrown);
  }
}

/** The JSON of an actor's state; a state JSON cannot express is the job's fault. */
export function stateJson(state: unknown): string {
  const json = userCode('state', () => JSON.stringify(state)) as string | undefined;
  if (typeof json !== 'string') throw new UserCodeError('state', new TypeError(`a ${typeof state} is not JSON-serialisable`));
  return json;
}

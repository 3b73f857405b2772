/**
 * Opening a task's LevelDB when its previous owner may still hold it. classic-level lets a
 * directory be open once (per process, and across processes through its LOCK file); when a
 * task moves to another thread or worker, the old owner may still be closing, so a locked
 * directory is retried with backoff for a bounded time and then reported by name.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Level } from 'level';

/** A LevelDB with string keys and values. */
export type Db = Level<string, string>;

/** The directory stayed locked by another owner (process or thread) for the whole wait. */
export class TaskStoreLockedError extends Error {
  override readonly name = 'TaskStoreLockedError';
  constructor(
    readonly dir: string,
    waitedMs: number,
    options?: ErrorOptions,
  ) {
    super(`task store ${dir} is locked by another owner (still locked after ${waitedMs} ms)`, options);
  }
}

/**
 * Opens the LevelDB in `dir` with string keys and values, retrying with backoff while another
 * owner holds its lock.
 * @throws TaskStoreLockedError when it is still locked after `lockWaitMs`
 */
export async function openLevel(dir: string, lockWaitMs: number): Promise<Db> {
  const deadline = performance.now() + lockWaitMs;
  for (let delayMs = 20; ; delayMs = Math.min(delayMs * 2, 500)) {
    const db: Db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      await db.open();
      return db;
    } catch (thrown) {
      const leftMs = deadline - performance.now();
      if (!isLocked(thrown)) throw thrown;
      if (leftMs <= 0) throw new TaskStoreLockedError(dir, lockWaitMs, { cause: thrown });
      await sleep(Math.min(delayMs, leftMs));
    }
  }
}

/** classic-level reports a held LOCK as LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED. */
function isLocked(thrown: unknown): boolean {
  const code = (error: unknown): unknown => (typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined);
  return code(thrown) === 'LEVEL_LOCKED' || code((thrown as { cause?: unknown } | null)?.cause) === 'LEVEL_LOCKED';
}

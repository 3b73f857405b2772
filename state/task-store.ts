/**
 * One LevelDB per task: actor states, timers, the watermark and the next source offsets. A
 * flush writes all of them in ONE batch, so the database always holds a state that matches its
 * offsets, and a barrier snapshot taken right after a flush is consistent.
 *
 * Actors evicted from the runtime's cache between flushes cannot go to their state entries
 * without breaking that rule, so they go to eviction entries (`e…`), which the next flush moves
 * to the state entries in its batch, and which opening the store discards (they belong to an
 * epoch that never completed).
 *
 * classic-level lets one process open a directory once. The previous owner of a task (another
 * thread or process) may still be closing it, so a locked directory is retried for a while.
 */
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Level } from 'level';
import { IllegalStateError } from '../common/errors.ts';
import { PREFIX, WATERMARK_KEY, actorKey, offsetKey, prefixRange, timerKey, topicOfOffsetKey, type StoredTimer } from './store-keys.ts';

export type { StoredTimer } from './store-keys.ts';

/** The event-time progress of a task. */
export type StoredWatermark = {
  /** null: no watermark yet (-Infinity). */
  watermarkMs: number | null;
  /** Per source name: the highest event time seen (ms) and when a record last arrived (processing time, ms). */
  sources: Record<string, { maxEventMs: number; lastSeenMs: number }>;
};

/** One actor, by name and key. */
export type ActorRef = { actor: string; key: string };

/** Everything one flush writes. */
export type FlushBatch = {
  /** States to write, as JSON. */
  actors: (ActorRef & { json: string })[];
  /** Evicted actors whose eviction entry becomes their state (those not in `actors`). */
  promoteEvicted: ActorRef[];
  /** Eviction entries to delete: every actor evicted since the last flush. */
  dropEvicted: ActorRef[];
  timerPuts: StoredTimer[];
  timerDels: StoredTimer[];
  watermark: StoredWatermark;
  /** Next offset per topic. */
  offsets: Record<string, string>;
};

/** Options of {@link TaskStore.open}. */
export type TaskStoreOptions = {
  /** How long to retry a directory locked by another owner. Default 10,000 ms. */
  lockWaitMs?: number;
};

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

type Db = Level<string, string>;
type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** A task's LevelDB. Methods must not overlap (the task's thread calls them one at a time). */
export class TaskStore {
  private closed = false;

  private constructor(
    /** The directory, for messages. */
    readonly dir: string,
    private readonly db: Db,
  ) {}

  /**
   * Opens (or creates) the store in `dir`, then drops eviction entries left by a crash.
   * @throws TaskStoreLockedError when `dir` stays locked for `lockWaitMs`
   */
  static async open(dir: string, options: TaskStoreOptions = {}): Promise<TaskStore> {
    await mkdir(dir, { recursive: true });
    const db = await openWithRetry(dir, options.lockWaitMs ?? 10_000);
    await db.clear(prefixRange(PREFIX.evicted));
    return new TaskStore(dir, db);
  }

  /** An actor's state JSON (`evicted`: its eviction entry), or undefined when there is none. */
  readActor(actor: string, key: string, evicted: boolean): Promise<string | undefined> {
    return this.db.get(actorKey(actor, key, evicted));
  }

  /** Writes an evicted actor's state to its eviction entry. */
  writeEvicted(actor: string, key: string, json: string): Promise<void> {
    return this.db.put(actorKey(actor, key, true), json);
  }

  /** Next offset per topic; empty for a fresh task. */
  async readOffsets(): Promise<Record<string, string>> {
    const offsets: Record<string, string> = {};
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.offset))) offsets[topicOfOffsetKey(key)] = value;
    return offsets;
  }

  /** All pending timers, by kind then time. */
  async readTimers(): Promise<StoredTimer[]> {
    const timers: StoredTimer[] = [];
    for await (const value of this.db.values(prefixRange(PREFIX.timer))) timers.push(JSON.parse(value) as StoredTimer);
    return timers;
  }

  async readWatermark(): Promise<StoredWatermark | undefined> {
    const value = await this.db.get(WATERMARK_KEY);
    return value === undefined ? undefined : (JSON.parse(value) as StoredWatermark);
  }

  /** Writes one flush atomically. */
  async commit(flush: FlushBatch): Promise<void> {
    const ops: BatchOp[] = flush.actors.map(({ actor, key, json }) => ({ type: 'put', key: actorKey(actor, key), value: json }));
    const promoted = await this.db.getMany(flush.promoteEvicted.map(({ actor, key }) => actorKey(actor, key, true)));
    flush.promoteEvicted.forEach(({ actor, key }, i) => {
      const value = promoted[i];
      if (value === undefined) throw new IllegalStateError(`evicted actor ${actor}/${key} has no eviction entry in ${this.dir}`);
      ops.push({ type: 'put', key: actorKey(actor, key), value });
    });
    for (const { actor, key } of flush.dropEvicted) ops.push({ type: 'del', key: actorKey(actor, key, true) });
    for (const timer of flush.timerDels) ops.push({ type: 'del', key: timerKey(timer) });
    for (const timer of flush.timerPuts) ops.push({ type: 'put', key: timerKey(timer), value: JSON.stringify(timer) });
    ops.push({ type: 'put', key: WATERMARK_KEY, value: JSON.stringify(flush.watermark) });
    for (const [topic, offset] of Object.entries(flush.offsets)) ops.push({ type: 'put', key: offsetKey(topic), value: offset });
    await this.db.batch(ops);
  }

  /** Closes the database; later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

async function openWithRetry(dir: string, lockWaitMs: number): Promise<Db> {
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

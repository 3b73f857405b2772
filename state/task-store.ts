/**
 * One LevelDB per task: actor states, timers, the watermark and the next source offsets. A
 * barrier writes all of them in ONE batch (a "flush"), so the database always holds a state
 * that matches its offsets, and the snapshot a barrier streams out right after its flush is
 * consistent. The buffer of exactly-once outputs not yet published is kept in memory by the
 * task and merged into the snapshot; a restored store holds it until `takeBuffer`.
 *
 * Actors evicted from the runtime's cache between flushes cannot go to their state entries
 * without breaking that rule, so they go to eviction entries (`e…`), which the next flush moves
 * to the state entries in its batch, and which opening the store discards (they belong to an
 * epoch that never completed).
 *
 * Under exactly-once, state that does not come from a checkpoint is never used: a task's store
 * is always created empty or rebuilt from a snapshot (see task-store-open.ts).
 *
 * A directory still locked by the task's previous owner is waited for (see level-open.ts).
 */
import { mkdir } from 'node:fs/promises';
import { IllegalStateError } from '../common/errors.ts';
import { applyDelta, loadEntries, openView, type DbView, type RawEntry } from './level-bulk.ts';
import { openLevel, type Db } from './level-open.ts';
import {
  PREFIX,
  WATERMARK_KEY,
  actorKey,
  actorRange,
  keyOfActorKey,
  offsetKey,
  parseBufferKey,
  prefixRange,
  timerKey,
  topicOfOffsetKey,
  type BufferRef,
  type StoredTimer,
} from './store-keys.ts';

export type { BufferRef, StoredTimer } from './store-keys.ts';
export type { DbView, RawEntry } from './level-bulk.ts';
export { TaskStoreLockedError } from './level-open.ts';

/** One buffered output as stored: where it sits, and its JSON. */
export type StoredBufferEntry = BufferRef & { json: string };

/** The event-time progress of a task. */
export type StoredWatermark = {
  /** null: no watermark yet (-Infinity). */
  watermarkMs: number | null;
  /** Per source name: the highest event time seen (ms) and when a record last arrived (processing time, ms). */
  sources: Record<string, { maxEventMs: number; lastSeenMs: number }>;
  /** Per actor: its own watermark over the sources it reads (absent in stores from before per-actor watermarks). */
  actors?: Record<string, StoredWatermark>;
};

/** One actor, by name and key. */
export type ActorRef = { actor: string; key: string };

/** Everything one flush writes. */
export type FlushBatch = {
  /** States to write, as JSON; null deletes the actor's state (it is back to its initial one). */
  actors: (ActorRef & { json: string | null })[];
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

type BatchOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** One entry a flush wrote: its new value, or null when it deleted it. What a delta snapshot holds. */
export type StoreChange = { key: string; value: string | null };

/** A task's LevelDB. Methods must not overlap (the task's thread calls them one at a time). */
export class TaskStore {
  private closed = false;
  /** The watermark and offsets as last written or read: a flush rewrites them only when they changed. */
  private lastWatermark: string | undefined;
  private readonly lastOffsets = new Map<string, string>();

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
    const db = await openLevel(dir, options.lockWaitMs ?? 10_000);
    await db.clear(prefixRange(PREFIX.evicted));
    return new TaskStore(dir, db);
  }

  /** An actor's state JSON (`evicted`: its eviction entry), or undefined when there is none. */
  readActor(actor: string, key: string, evicted: boolean): Promise<string | undefined> {
    return this.db.get(actorKey(actor, key, evicted));
  }

  /** The keys of `actor` with a stored state or eviction entry. */
  async actorKeys(actor: string): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const evicted of [false, true]) for await (const key of this.db.keys(actorRange(actor, evicted))) keys.add(keyOfActorKey(key));
    return keys;
  }

  /**
   * Up to `limit` stored states of `actor` (not eviction entries), in key order, after key
   * `after` (from the first when undefined), as [key, stored value].
   */
  async scanActors(actor: string, after: string | undefined, limit: number): Promise<[string, string][]> {
    const range = actorRange(actor);
    const options = after === undefined ? { ...range, limit } : { gt: actorKey(actor, after), lt: range.lt, limit };
    const page: [string, string][] = [];
    for await (const [key, value] of this.db.iterator(options)) page.push([keyOfActorKey(key), value]);
    return page;
  }

  /** Writes an evicted actor's state to its eviction entry. */
  writeEvicted(actor: string, key: string, json: string): Promise<void> {
    return this.db.put(actorKey(actor, key, true), json);
  }

  /** Next offset per topic; empty for a fresh task. */
  async readOffsets(): Promise<Record<string, string>> {
    const offsets: Record<string, string> = {};
    for await (const [key, value] of this.db.iterator(prefixRange(PREFIX.offset))) {
      offsets[topicOfOffsetKey(key)] = value;
      this.lastOffsets.set(key, value);
    }
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
    this.lastWatermark = value;
    return value === undefined ? undefined : (JSON.parse(value) as StoredWatermark);
  }

  /**
   * The buffered outputs a restored snapshot brought, by epoch then emission order, removed
   * from the store: from here on the task keeps them in memory and in its snapshots.
   */
  async takeBuffer(): Promise<StoredBufferEntry[]> {
    const entries: StoredBufferEntry[] = [];
    for await (const [key, json] of this.db.iterator(prefixRange(PREFIX.buffer))) entries.push({ ...parseBufferKey(key), json });
    if (entries.length > 0) await this.db.clear(prefixRange(PREFIX.buffer));
    return entries;
  }

  /** A view of the database as of now, for a snapshot (see level-bulk.ts). */
  openView(): DbView {
    return openView(this.db);
  }

  /** Bulk-loads raw entries (a base snapshot's) into the store; returns how many. */
  load(entries: AsyncIterable<RawEntry>): Promise<number> {
    return loadEntries(this.db, entries);
  }

  /** Applies a delta snapshot's entries (`source` names it in errors); returns how many. */
  applyDelta(entries: AsyncIterable<RawEntry>, source: string): Promise<number> {
    return applyDelta(this.db, entries, source);
  }

  /**
   * Writes one flush atomically and returns what it changed in the snapshotted entries (eviction
   * entries left out; a watermark or offset equal to the one stored is not rewritten): with
   * nothing changed, it writes nothing.
   */
  async commit(flush: FlushBatch): Promise<StoreChange[]> {
    const ops: BatchOp[] = flush.actors.map(({ actor, key, json }) => (json === null ? { type: 'del', key: actorKey(actor, key) } : { type: 'put', key: actorKey(actor, key), value: json }));
    const promoted = await this.db.getMany(flush.promoteEvicted.map(({ actor, key }) => actorKey(actor, key, true)));
    flush.promoteEvicted.forEach(({ actor, key }, i) => {
      const value = promoted[i];
      if (value === undefined) throw new IllegalStateError(`evicted actor ${actor}/${key} has no eviction entry in ${this.dir}`);
      ops.push({ type: 'put', key: actorKey(actor, key), value });
    });
    for (const { actor, key } of flush.dropEvicted) ops.push({ type: 'del', key: actorKey(actor, key, true) });
    for (const timer of flush.timerDels) ops.push({ type: 'del', key: timerKey(timer) });
    for (const timer of flush.timerPuts) ops.push({ type: 'put', key: timerKey(timer), value: JSON.stringify(timer) });
    const watermark = JSON.stringify(flush.watermark);
    if (watermark !== this.lastWatermark) ops.push({ type: 'put', key: WATERMARK_KEY, value: watermark });
    const offsets = Object.entries(flush.offsets).map(([topic, offset]) => [offsetKey(topic), offset] as const);
    for (const [key, offset] of offsets) if (this.lastOffsets.get(key) !== offset) ops.push({ type: 'put', key, value: offset });
    if (ops.length === 0) return [];
    await this.db.batch(ops);
    this.lastWatermark = watermark;
    for (const [key, offset] of offsets) this.lastOffsets.set(key, offset);
    // Eviction entries never outlive a barrier and are in no snapshot.
    const evicted = `${PREFIX.evicted}\x00`;
    return ops.flatMap((op) => (op.key.startsWith(evicted) ? [] : [{ key: op.key, value: op.type === 'put' ? op.value : null }]));
  }

  /** Closes the database; later calls do nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}

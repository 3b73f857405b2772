/**
 * The task's activated actors, in memory, least recently used first, at most `maxEntries`.
 * An actor is activated on its first record or timer: read from the store, or created with
 * `initial()`. Each entry keeps the JSON of its last good state, which is both what a failed
 * handler rolls back to and what a flush writes. Evicting a changed actor writes it to its
 * eviction entry first (see state/task-store.ts), and reactivating reads it back from there.
 * A state back to what `initial()` returns is the same as no state, so a flush deletes it: keys
 * whose rows, windows or sessions are gone stop taking space.
 *
 * **State TTL** (`stateTtlMs` of an actor): such an actor's stored value is `<written ms>|<JSON>`,
 * the processing time its state last changed, then the state. Activating an expired key gives
 * `initial()` and marks the key for deletion; {@link ActorCache.expire}, called on ticks, reads
 * a bounded number of stored keys further each time (a cursor that wraps around) and marks the
 * expired ones no call touched, so space is freed without their records (Flink's incremental
 * TTL cleanup works the same way). The task state (a reserved key) never expires.
 */
import type { ActorRef, FlushBatch, TaskStore } from '../../state/task-store.ts';
import { stateJson, userCode } from './user-code-error.ts';

/** An activated actor. */
export type ActorEntry = {
  readonly actor: string;
  readonly key: string;
  /** The live state object handed to handlers. */
  state: unknown;
  /** JSON of the state after the last call that succeeded. */
  json: string;
  /** Changed since the last flush. */
  dirty: boolean;
  /** JSON of `initial()`: a flush deletes the actor instead of writing this. */
  readonly initialJson: string;
  /** Processing time the state last changed (0 when unknown): what state TTL counts from. */
  writtenMs: number;
};

/** Stored keys read per TTL actor by one {@link ActorCache.expire}. */
export const EXPIRE_BUDGET = 1_000;

/** Keys starting with NUL are reserved (the task state): they never expire. */
const RESERVED = '\u0000';

export class ActorCache {
  /** Map order is the LRU order: oldest first. */
  private readonly entries = new Map<string, ActorEntry>();
  /** Actors written to eviction entries since the last flush. */
  private readonly evicted = new Map<string, ActorRef>();
  /** Stored keys found expired by {@link expire} since the last flush, to delete. */
  private readonly expired = new Map<string, ActorRef>();
  /** Per TTL actor: the last stored key {@link expire} read. */
  private readonly cursors = new Map<string, string | undefined>();

  /** @param ttls state TTL in ms, per actor that has one */
  constructor(
    private readonly store: TaskStore,
    private readonly maxEntries: number,
    private readonly ttls: ReadonlyMap<string, number> = new Map(),
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`actorCacheMax must be an integer ≥ 1, got ${maxEntries}`);
  }

  /** Actors in memory. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The actor for (`actor`, `key`), now most recently used.
   * @throws UserCodeError when `initial()` throws or returns a state JSON cannot hold
   */
  async activate(actor: string, key: string, initial: () => unknown, nowMs = 0): Promise<ActorEntry> {
    const id = `${actor}\x00${key}`;
    const hit = this.entries.get(id);
    const ttl = this.ttlOf(actor, key);
    if (hit !== undefined && !(ttl !== undefined && nowMs - hit.writtenMs >= ttl && hit.json !== hit.initialJson)) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    this.entries.delete(id);
    const wasEvicted = this.evicted.has(id);
    const stored = hit === undefined ? await this.store.readActor(actor, key, wasEvicted) : undefined;
    const { writtenMs, json } = stored === undefined ? { writtenMs: 0, json: undefined } : ttl === undefined ? { writtenMs: 0, json: stored } : unstamp(stored);
    let entry: ActorEntry;
    if (json !== undefined && (ttl === undefined || nowMs - writtenMs < ttl)) {
      entry = { actor, key, state: JSON.parse(json) as unknown, json, dirty: wasEvicted, initialJson: stateJson(userCode('initial()', initial)), writtenMs };
    } else {
      entry = fresh(actor, key, initial);
      entry.dirty = hit !== undefined || json !== undefined; // expired: the flush deletes what is stored
    }
    this.entries.set(id, entry);
    await this.evictOverflow();
    return entry;
  }

  /**
   * Every key `actor` has in the task, sorted: stored, evicted or in memory (a key whose state
   * went back to initial since the last flush included; its handler sees the initial state).
   */
  async keysOf(actor: string): Promise<string[]> {
    const keys = await this.store.actorKeys(actor);
    for (const entry of this.entries.values()) if (entry.actor === actor) keys.add(entry.key);
    for (const ref of this.evicted.values()) if (ref.actor === actor) keys.add(ref.key);
    return [...keys].sort();
  }

  /** A call on `entry` at processing time `nowMs` succeeded with `state`, whose JSON is `json`. */
  update(entry: ActorEntry, state: unknown, json: string, nowMs = 0): void {
    entry.state = state;
    if (json === entry.json) return;
    entry.json = json;
    entry.dirty = true;
    entry.writtenMs = nowMs;
  }

  /**
   * Reads up to {@link EXPIRE_BUDGET} more stored keys of each TTL actor and marks those expired
   * at `nowMs` (and not changed or evicted since the last flush) for deletion at the next flush,
   * dropping them from memory. Returns how many it marked.
   */
  async expire(nowMs: number, budget = EXPIRE_BUDGET): Promise<number> {
    let marked = 0;
    for (const [actor, ttl] of this.ttls) {
      const page = await this.store.scanActors(actor, this.cursors.get(actor), budget);
      this.cursors.set(actor, page.length < budget ? undefined : page.at(-1)?.[0]);
      for (const [key, value] of page) {
        const id = `${actor}\x00${key}`;
        const cached = this.entries.get(id);
        if (key.startsWith(RESERVED) || cached?.dirty === true || this.evicted.has(id) || nowMs - unstamp(value).writtenMs < ttl) continue;
        this.entries.delete(id); // clean, so the stored state is the one read: expired too
        if (!this.expired.has(id)) marked += 1;
        this.expired.set(id, { actor, key });
      }
    }
    return marked;
  }

  /** A call on `entry` failed: back to its last good state. */
  rollBack(entry: ActorEntry): void {
    entry.state = JSON.parse(entry.json) as unknown;
  }

  /** The actor part of a flush. */
  flushParts(): Pick<FlushBatch, 'actors' | 'promoteEvicted' | 'dropEvicted'> {
    const actors = [...this.entries.values()].filter((entry) => entry.dirty).map((entry) => ({ actor: entry.actor, key: entry.key, json: entry.json === entry.initialJson ? null : this.stored(entry) }));
    for (const [id, ref] of this.expired) if (!this.entries.has(id) && !this.evicted.has(id)) actors.push({ ...ref, json: null });
    const promoteEvicted = [...this.evicted].filter(([id]) => !this.entries.has(id)).map(([, ref]) => ref);
    return { actors, promoteEvicted, dropEvicted: [...this.evicted.values()] };
  }

  /** The flush parts were written. */
  markFlushed(): void {
    for (const entry of this.entries.values()) entry.dirty = false;
    this.evicted.clear();
    this.expired.clear();
  }

  private ttlOf(actor: string, key: string): number | undefined {
    return key.startsWith(RESERVED) ? undefined : this.ttls.get(actor);
  }

  /** What the store holds for `entry`: its JSON, stamped with when it changed for a TTL actor. */
  private stored(entry: ActorEntry): string {
    return this.ttlOf(entry.actor, entry.key) === undefined ? entry.json : `${entry.writtenMs}|${entry.json}`;
  }

  private async evictOverflow(): Promise<void> {
    for (const [id, oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries) return;
      if (oldest.dirty) {
        await this.store.writeEvicted(oldest.actor, oldest.key, this.stored(oldest));
        this.evicted.set(id, { actor: oldest.actor, key: oldest.key });
      }
      this.entries.delete(id);
    }
  }
}

function fresh(actor: string, key: string, initial: () => unknown): ActorEntry {
  const state = userCode('initial()', initial);
  const json = stateJson(state);
  return { actor, key, state, json, dirty: false, initialJson: json, writtenMs: 0 };
}

/** A TTL actor's stored value: when it was written, and the state's JSON. */
function unstamp(stored: string): { writtenMs: number; json: string } {
  const bar = stored.indexOf('|');
  return { writtenMs: Number(stored.slice(0, bar)), json: stored.slice(bar + 1) };
}

/**
 * The task's activated actors, in memory, least recently used first, at most `maxEntries`.
 * An actor is activated on its first record or timer: read from the store, or created with
 * `initial()`. Each entry keeps the JSON of its last good state, which is both what a failed
 * handler rolls back to and what a flush writes. Evicting a changed actor writes it to its
 * eviction entry first (see state/task-store.ts), and reactivating reads it back from there.
 * A state back to what `initial()` returns is the same as no state, so a flush deletes it: keys
 * whose rows, windows or sessions are gone stop taking space (state TTL builds on this).
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
};

export class ActorCache {
  /** Map order is the LRU order: oldest first. */
  private readonly entries = new Map<string, ActorEntry>();
  /** Actors written to eviction entries since the last flush. */
  private readonly evicted = new Map<string, ActorRef>();

  constructor(
    private readonly store: TaskStore,
    private readonly maxEntries: number,
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
  async activate(actor: string, key: string, initial: () => unknown): Promise<ActorEntry> {
    const id = `${actor}\x00${key}`;
    const hit = this.entries.get(id);
    if (hit !== undefined) {
      this.entries.delete(id);
      this.entries.set(id, hit);
      return hit;
    }
    const wasEvicted = this.evicted.has(id);
    const stored = await this.store.readActor(actor, key, wasEvicted);
    const entry: ActorEntry =
      stored === undefined
        ? fresh(actor, key, initial)
        : { actor, key, state: JSON.parse(stored) as unknown, json: stored, dirty: wasEvicted, initialJson: stateJson(userCode('initial()', initial)) };
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

  /** A call on `entry` succeeded with `state`, whose JSON is `json`. */
  update(entry: ActorEntry, state: unknown, json: string): void {
    entry.state = state;
    if (json === entry.json) return;
    entry.json = json;
    entry.dirty = true;
  }

  /** A call on `entry` failed: back to its last good state. */
  rollBack(entry: ActorEntry): void {
    entry.state = JSON.parse(entry.json) as unknown;
  }

  /** The actor part of a flush. */
  flushParts(): Pick<FlushBatch, 'actors' | 'promoteEvicted' | 'dropEvicted'> {
    const actors = [...this.entries.values()].filter((entry) => entry.dirty).map(({ actor, key, json, initialJson }) => ({ actor, key, json: json === initialJson ? null : json }));
    const promoteEvicted = [...this.evicted].filter(([id]) => !this.entries.has(id)).map(([, ref]) => ref);
    return { actors, promoteEvicted, dropEvicted: [...this.evicted.values()] };
  }

  /** The flush parts were written. */
  markFlushed(): void {
    for (const entry of this.entries.values()) entry.dirty = false;
    this.evicted.clear();
  }

  private async evictOverflow(): Promise<void> {
    for (const [id, oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries) return;
      if (oldest.dirty) {
        await this.store.writeEvicted(oldest.actor, oldest.key, oldest.json);
        this.evicted.set(id, { actor: oldest.actor, key: oldest.key });
      }
      this.entries.delete(id);
    }
  }
}

function fresh(actor: string, key: string, initial: () => unknown): ActorEntry {
  const state = userCode('initial()', initial);
  const json = stateJson(state);
  return { actor, key, state, json, dirty: false, initialJson: json };
}

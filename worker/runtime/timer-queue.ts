/**
 * The pending timers of one task, both kinds, in memory (loaded from the store at open), with
 * the changes since the last flush. Ids are the timers' store keys, which sort by timestamp and
 * then actor, key and tag, so firing order is deterministic and equal to the store's order.
 * Cancelled timers leave a stale id in the heap that is skipped when it comes up.
 */
import { timerKey, type StoredTimer } from '../../state/store-keys.ts';
import { MinHeap } from './min-heap.ts';

type Kind = StoredTimer['kind'];

export class TimerQueue {
  private readonly pending = new Map<string, StoredTimer>();
  private readonly heaps: Record<Kind, MinHeap<string>> = {
    'event-time': new MinHeap<string>((a, b) => a < b),
    'processing-time': new MinHeap<string>((a, b) => a < b),
  };
  /** Since the last flush, per id: the timer, and whether to write (true) or delete it. */
  private changes = new Map<string, { timer: StoredTimer; put: boolean }>();

  /** Timers registered and not yet fired or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  /** Adds timers read from the store (not recorded as changes). */
  load(timers: readonly StoredTimer[]): void {
    for (const timer of timers) this.insert(timerKey(timer), timer);
  }

  /** Registers a timer; registering a pending one again does nothing. */
  add(timer: StoredTimer): void {
    const id = timerKey(timer);
    if (this.pending.has(id)) return;
    this.insert(id, timer);
    this.changes.set(id, { timer, put: true });
  }

  /** Removes a pending timer (cancelled, or about to fire); does nothing when it is not pending. */
  remove(timer: StoredTimer): void {
    const id = timerKey(timer);
    if (!this.pending.delete(id)) return;
    this.changes.set(id, { timer, put: false });
  }

  isPending(timer: StoredTimer): boolean {
    return this.pending.has(timerKey(timer));
  }

  /**
   * Takes from the heap, in order, the timers of `kind` due at `limitMs` (timestamp ≤ limit).
   * They stay pending: the caller fires each one that is still pending when its turn comes
   * (an earlier one may cancel it) and removes it.
   */
  takeDue(kind: Kind, limitMs: number): StoredTimer[] {
    const heap = this.heaps[kind];
    const due: StoredTimer[] = [];
    const seen = new Set<string>();
    for (let id = heap.peek(); id !== undefined; id = heap.peek()) {
      const timer = this.pending.get(id);
      if (timer !== undefined && timer.timestampMs > limitMs) break;
      heap.pop();
      if (timer !== undefined && !seen.has(id)) due.push(timer);
      seen.add(id);
    }
    return due;
  }

  /** Puts a timer taken by {@link takeDue} back in the heap: it was not due after all (its actor's watermark is lower). */
  putBack(timer: StoredTimer): void {
    const id = timerKey(timer);
    if (this.pending.has(id)) this.heaps[timer.kind].push(id);
  }

  /** What changed since the last flush. */
  changesSinceFlush(): { puts: StoredTimer[]; dels: StoredTimer[] } {
    const puts: StoredTimer[] = [];
    const dels: StoredTimer[] = [];
    for (const { timer, put } of this.changes.values()) (put ? puts : dels).push(timer);
    return { puts, dels };
  }

  /** The changes were written. */
  markFlushed(): void {
    this.changes = new Map();
  }

  private insert(id: string, timer: StoredTimer): void {
    this.pending.set(id, timer);
    this.heaps[timer.kind].push(id);
  }
}

/**
 * Counts what the CDC generator has produced, for progress lines and the final summary.
 */
import type { CdcEvent } from './generator.ts';

/** What a generator run produced. Tombstones count as events (op `tombstone` in `byOp`). */
export type CdcRunStats = {
  events: number;
  /** Key plus value bytes. */
  bytes: number;
  elapsedMs: number;
  /** Average over the whole run. */
  eventsPerSec: number;
  /** Events per table name. */
  byTable: Record<string, number>;
  /** Events per op: `r`, `c`, `u`, `d`, `tombstone`. */
  byOp: Record<string, number>;
};

/** A running tally of produced events. */
export class RunTally {
  private events = 0;
  private bytes = 0;
  private readonly byTable: Record<string, number> = {};
  private readonly byOp: Record<string, number> = {};

  constructor(private readonly startMs: number) {}

  get count(): number {
    return this.events;
  }

  /** Adds events that the broker has acknowledged. */
  add(batch: readonly CdcEvent[]): void {
    for (const event of batch) {
      this.events += 1;
      this.bytes += event.key.length + (event.value?.length ?? 0);
      this.byTable[event.table] = (this.byTable[event.table] ?? 0) + 1;
      const op = event.op ?? 'tombstone';
      this.byOp[op] = (this.byOp[op] ?? 0) + 1;
    }
  }

  /** A snapshot of the counts as of `nowMs` (same clock as `startMs`). */
  stats(nowMs: number): CdcRunStats {
    const elapsedMs = Math.max(0, nowMs - this.startMs);
    return {
      events: this.events,
      bytes: this.bytes,
      elapsedMs,
      eventsPerSec: elapsedMs > 0 ? (this.events * 1000) / elapsedMs : 0,
      byTable: { ...this.byTable },
      byOp: { ...this.byOp },
    };
  }
}

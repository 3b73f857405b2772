/**
 * The event-time watermark of one task: for each source that has produced an event time, the
 * highest one seen; the watermark is the lowest of those minus the allowed out-of-orderness,
 * leaving out sources idle (no records, in processing time) for longer than `idleSourceMs`.
 * It never goes back: a source that wakes up late cannot pull it down.
 */
import type { StoredWatermark } from '../../state/task-store.ts';

/** Event-time settings, as in the job definition. */
export type WatermarkSettings = { outOfOrdernessMs: number; idleSourceMs?: number };

type SourceProgress = { maxEventMs: number; lastSeenMs: number };

export class WatermarkTracker {
  private currentMs = -Infinity;
  private readonly sources = new Map<string, SourceProgress>();

  constructor(
    private readonly settings: WatermarkSettings,
    restored?: StoredWatermark,
  ) {
    if (restored === undefined) return;
    this.currentMs = restored.watermarkMs ?? -Infinity;
    for (const [source, progress] of Object.entries(restored.sources)) this.sources.set(source, { ...progress });
  }

  /** The watermark, ms; -Infinity until one is known. */
  get watermarkMs(): number {
    return this.currentMs;
  }

  /** A record of `source` arrived at processing time `nowMs`. */
  touch(source: string, nowMs: number): void {
    const progress = this.sources.get(source);
    if (progress === undefined) this.sources.set(source, { maxEventMs: -Infinity, lastSeenMs: nowMs });
    else progress.lastSeenMs = Math.max(progress.lastSeenMs, nowMs);
  }

  /** A record of `source` (already touched) has event time `eventMs`. */
  observe(source: string, eventMs: number): void {
    const progress = this.sources.get(source);
    if (progress !== undefined && eventMs > progress.maxEventMs) progress.maxEventMs = eventMs;
  }

  /** Recomputes the watermark at processing time `nowMs`; returns whether it moved. */
  advance(nowMs: number): boolean {
    const { outOfOrdernessMs, idleSourceMs } = this.settings;
    let lowest = Infinity;
    for (const { maxEventMs, lastSeenMs } of this.sources.values()) {
      if (maxEventMs === -Infinity) continue;
      if (idleSourceMs !== undefined && nowMs - lastSeenMs > idleSourceMs) continue;
      lowest = Math.min(lowest, maxEventMs);
    }
    if (lowest === Infinity || lowest - outOfOrdernessMs <= this.currentMs) return false;
    this.currentMs = lowest - outOfOrdernessMs;
    return true;
  }

  /** The progress to store (sources without an event time are left out). */
  snapshot(): StoredWatermark {
    const sources: StoredWatermark['sources'] = {};
    for (const [source, progress] of this.sources) if (progress.maxEventMs !== -Infinity) sources[source] = { ...progress };
    return { watermarkMs: this.currentMs === -Infinity ? null : this.currentMs, sources };
  }
}

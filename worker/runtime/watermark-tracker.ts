/**
 * The event-time watermark of one task: for each source that has produced an event time, the
 * highest one seen; the watermark is the lowest of those minus the allowed out-of-orderness,
 * leaving out sources idle (no records, in processing time) for longer than `idleSourceMs`.
 * It never goes back: a source that wakes up late cannot pull it down.
 */
import type { StoredWatermark } from '../../state/task-store.ts';

/** Event-time settings, as in the job definition. */
export type WatermarkSettings = { outOfOrdernessMs: number; idleSourceMs?: number };

/** `holds`: a lane expected before it was seen (an upstream task of a repartition); it holds the watermark back until it reports or goes idle. */
type SourceProgress = { maxEventMs: number; lastSeenMs: number; holds?: boolean };

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

  /** Expects `source` (a lane): until it reports an event time, or stays silent for `idleSourceMs`, the watermark waits for it. */
  expect(source: string, nowMs: number): void {
    if (!this.sources.has(source)) this.sources.set(source, { maxEventMs: -Infinity, lastSeenMs: nowMs, holds: true });
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
    let waiting = false;
    for (const { maxEventMs, lastSeenMs, holds } of this.sources.values()) {
      if (idleSourceMs !== undefined && nowMs - lastSeenMs > idleSourceMs) continue;
      if (maxEventMs === -Infinity) {
        waiting ||= holds === true;
        continue;
      }
      lowest = Math.min(lowest, maxEventMs);
    }
    if (waiting) return false;
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

/**
 * The watermarks of a task's actors, one {@link WatermarkTracker} each over the sources that
 * actor reads. Per actor, not per task: an actor reading a repartition topic sees records one
 * checkpoint after the task's upstream actors saw their sources, so a task-wide watermark would
 * already stand past them and call everything in the repartition topic late. As in Flink, where
 * an operator's watermark is the minimum over its own inputs.
 */
export class ActorWatermarks {
  private readonly trackers = new Map<string, WatermarkTracker>();
  private readonly readers = new Map<string, string[]>();

  /**
   * @param actors each actor's sources
   * @param restored the stored form; a store from before per-actor watermarks gives every actor the task's watermark to start from
   */
  /** Lanes every actor reading a repartition expects: one per upstream task (set up on the first call that has a clock). */
  private expected: [actor: string, lane: string][] = [];

  /**
   * @param repartitions the repartition sources of the job
   * @param upstreamTasks how many tasks write to each repartition (the job's task count); 0: do not expect lanes
   */
  constructor(
    actors: Readonly<Record<string, { readonly from: readonly string[] }>>,
    settings: WatermarkSettings,
    restored?: StoredWatermark,
    repartitions: ReadonlySet<string> = new Set(),
    upstreamTasks = 0,
  ) {
    for (const [actor, { from }] of Object.entries(actors)) {
      const own = restored?.actors?.[actor] ?? (restored === undefined ? undefined : { watermarkMs: restored.watermarkMs, sources: {} });
      this.trackers.set(actor, new WatermarkTracker(settings, own));
      for (const source of from) this.readers.set(source, [...(this.readers.get(source) ?? []), actor]);
      for (const source of from) {
        if (!repartitions.has(source)) continue;
        for (let task = 0; task < upstreamTasks; task++) this.expected.push([actor, `${source}#${task}`]);
      }
    }
  }

  private expectLanes(nowMs: number): void {
    if (this.expected.length === 0) return;
    for (const [actor, lane] of this.expected) this.trackers.get(actor)?.expect(lane, nowMs);
    this.expected = [];
  }

  /** The watermark of `actor`, ms; -Infinity until one is known. */
  of(actor: string): number {
    return this.trackers.get(actor)?.watermarkMs ?? -Infinity;
  }

  /** The lowest known watermark among the actors (for stats), or -Infinity. */
  get lowestMs(): number {
    const known = [...this.trackers.values()].map((t) => t.watermarkMs).filter(Number.isFinite);
    return known.length === 0 ? -Infinity : Math.min(...known);
  }

  /** The highest watermark among the actors: no event-time timer above it is due. */
  get highestMs(): number {
    return Math.max(-Infinity, ...[...this.trackers.values()].map((t) => t.watermarkMs));
  }

  /**
   * A record of `source` arrived at processing time `nowMs`, on watermark lane `lane` (the
   * source, or a repartition source and the task that wrote the record); every actor reading
   * the source sees the lane active.
   */
  touch(source: string, lane: string, nowMs: number): void {
    this.expectLanes(nowMs);
    for (const actor of this.readers.get(source) ?? []) this.trackers.get(actor)?.touch(lane, nowMs);
  }

  /** `actor` saw a record on `lane` at event time `eventMs`. */
  observe(actor: string, lane: string, eventMs: number): void {
    this.trackers.get(actor)?.observe(lane, eventMs);
  }

  /** A watermark marker of an upstream task on `lane` of `source`: every actor reading the source saw event time `eventMs` there. */
  observeMarker(source: string, lane: string, eventMs: number): void {
    for (const actor of this.readers.get(source) ?? []) this.trackers.get(actor)?.observe(lane, eventMs);
  }

  /** Recomputes every actor's watermark at processing time `nowMs`. */
  advance(nowMs: number): void {
    this.expectLanes(nowMs);
    for (const tracker of this.trackers.values()) tracker.advance(nowMs);
  }

  /** The progress to store: the lowest watermark for the task, and each actor's own. */
  snapshot(): StoredWatermark {
    const actors: NonNullable<StoredWatermark['actors']> = {};
    for (const [actor, tracker] of this.trackers) actors[actor] = tracker.snapshot();
    return { watermarkMs: Number.isFinite(this.lowestMs) ? this.lowestMs : null, sources: {}, actors };
  }
}

/**
 * Event-time windows, as functions an actor calls: which windows a timestamp falls in (tumbling,
 * hopping), how session windows grow and merge, and when a window is closed for good. Windows
 * are half-open, [start, end), in ms since the epoch, aligned to the epoch (as Flink and Kafka
 * Streams align them).
 *
 * A window is *closed* once the watermark passed its end plus the allowed lateness: its result
 * is final, its state can go, and a record that still falls in it is late. Late records are
 * never dropped silently: the job sends them to a late output with {@link lateReason}.
 */

/** A half-open interval of event time, [start, end). */
export type Window = { readonly start: number; readonly end: number };

/** Tumbling windows of `sizeMs`: each timestamp falls in exactly one. */
export function tumbling(sizeMs: number): (ts: number) => Window[] {
  checkSize(sizeMs, 'sizeMs');
  return (ts) => {
    const start = ts - mod(ts, sizeMs);
    return [{ start, end: start + sizeMs }];
  };
}

/** Hopping windows of `sizeMs` starting every `advanceMs`: each timestamp falls in ⌈size/advance⌉ of them, oldest first. */
export function hopping(sizeMs: number, advanceMs: number): (ts: number) => Window[] {
  checkSize(sizeMs, 'sizeMs');
  checkSize(advanceMs, 'advanceMs');
  if (advanceMs > sizeMs) throw new RangeError(`advanceMs (${advanceMs}) must not exceed sizeMs (${sizeMs})`);
  return (ts) => {
    const windows: Window[] = [];
    const lastStart = ts - mod(ts, advanceMs);
    for (let start = lastStart; start > ts - sizeMs; start -= advanceMs) windows.unshift({ start, end: start + sizeMs });
    return windows;
  };
}

/** A session window and what it aggregated. */
export type Session<A> = { start: number; end: number; value: A };

/** What adding a record to a key's sessions did. */
export type SessionUpdate<A> = {
  /** The key's sessions afterwards, by start. */
  sessions: Session<A>[];
  /** The session the record is in now. */
  session: Session<A>;
  /** Sessions that existed before and were merged into `session` (their results are superseded). */
  merged: Session<A>[];
};

/**
 * Adds a record at `ts` to a key's session windows with inactivity gap `gapMs`: the record opens
 * [ts, ts + gap), which merges with every session it touches (Flink's merging session windows).
 *
 * @param sessions the key's sessions, by start (not changed)
 * @param value the record's own aggregate, e.g. `{ orders: 1, total: 12.5 }`
 * @param combine merges two aggregates (must be associative and commutative)
 */
export function addToSession<A>(sessions: readonly Session<A>[], ts: number, gapMs: number, value: A, combine: (a: A, b: A) => A): SessionUpdate<A> {
  checkSize(gapMs, 'gapMs');
  let session: Session<A> = { start: ts, end: ts + gapMs, value };
  const merged: Session<A>[] = [];
  const kept: Session<A>[] = [];
  for (const existing of sessions) {
    if (existing.start <= session.end && session.start <= existing.end) {
      merged.push(existing);
      session = { start: Math.min(existing.start, session.start), end: Math.max(existing.end, session.end), value: combine(existing.value, session.value) };
    } else {
      kept.push(existing);
    }
  }
  const next = [...kept, session].sort((a, b) => a.start - b.start);
  return { sessions: next, session, merged };
}

/** Whether a window ending at `end` is closed at `watermark`, given `allowedLatenessMs`. */
export function isClosed(end: number, watermark: number, allowedLatenessMs = 0): boolean {
  return end + allowedLatenessMs <= watermark;
}

/** Why a record is late, for the late output: names its event time, the window and the watermark. */
export function lateReason(eventTime: number, window: Window, watermark: number, allowedLatenessMs = 0): string {
  return `event time ${isoUtc(eventTime)} falls in window [${isoUtc(window.start)}, ${isoUtc(window.end)}), closed since the watermark reached ${isoUtc(watermark)} (allowed lateness ${allowedLatenessMs} ms)`;
}

/** ISO-8601 in UTC with milliseconds, e.g. `2025-01-01T00:05:00.000Z`. */
export function isoUtc(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

function checkSize(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`${name} must be an integer ms > 0, got ${ms}`);
}

/**
 * Seeded demo data for the `engagement` job (seed 001): Debezium change events of
 * `content(id uuid, slug, title, content_type, length_seconds, publish_ts)` and
 * `engagement_events(id serial, content_id, user_id, event_type, event_ts, duration_ms, device,
 * raw_payload)`, as the PostgreSQL connector writes them with `schemas.enable=false` (timestamps in
 * µs). Content is inserted first and sometimes re-cut (a new length); events reference content,
 * a few are corrected or deleted, and about 3% are invalid (no event type, negative duration,
 * unknown device), as the seed's DLQ expects.
 */
import { SeededRandom } from '../../loadtest/cdc/random.ts';

/** A `content` row. */
export type ContentRow = { id: string; slug: string; title: string; content_type: string; length_seconds: number | null; publish_ts: number };
/** An `engagement_events` row. */
export type EngagementRow = { id: number; content_id: string | null; user_id: string | null; event_type: string | null; event_ts: number | null; duration_ms: number | null; device: string | null; raw_payload: string | null };

/** One record to produce. */
export type EngagementEvent = { topic: string; key: Buffer; value: Buffer; timestampMs: number; table: 'content' | 'engagement_events'; valid: boolean };

export const EVENT_TYPES = ['play', 'pause', 'complete', 'click'] as const;
export const DEVICES = ['mobile', 'desktop', 'tablet'] as const;

/** Options of {@link engagementEvents}. */
export type EngagementDataOptions = { seed: number; count: number; prefix?: string; startMs?: number; contents?: number; stepMs?: number };

/** `count` change events, in commit order. */
export function engagementEvents(options: EngagementDataOptions): EngagementEvent[] {
  const random = new SeededRandom(options.seed);
  const prefix = options.prefix ?? 'engagement';
  const step = options.stepMs ?? 1_000;
  let now = options.startMs ?? Date.UTC(2025, 0, 1);
  const contents: ContentRow[] = [];
  const events = new Map<number, EngagementRow>();
  const out: EngagementEvent[] = [];
  let nextEvent = 1;
  const uuid = (n: number, kind: number) => `${kind.toString(16).padStart(8, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
  const emit = (table: EngagementEvent['table'], op: string, key: Record<string, unknown>, before: unknown, after: unknown, valid = true) => {
    const value = { before, after, source: { version: '3.1.0.Final', connector: 'postgresql', name: prefix, ts_ms: now, db: 'engagement_db', schema: 'public', table }, op, ts_ms: now + 3 };
    out.push({ topic: `${prefix}.public.${table}`, key: Buffer.from(JSON.stringify(key)), value: Buffer.from(JSON.stringify(value)), timestampMs: now + 3, table, valid });
  };
  for (let i = 0; i < (options.contents ?? 20); i++) {
    const row: ContentRow = { id: uuid(i + 1, 1), slug: `clip-${i + 1}`, title: `Clip ${i + 1}`, content_type: random.pick(['video', 'podcast', 'article']), length_seconds: random.int(0, 9) === 0 ? null : random.int(30, 1_800), publish_ts: now * 1000 };
    contents.push(row);
    emit('content', 'r', { id: row.id }, null, row);
  }
  while (out.length < options.count) {
    now += step;
    const roll = random.int(1, 100);
    if (roll <= 3) {
      // Re-cut a clip: a new length changes the engagement of every event on it.
      const index = random.int(0, contents.length - 1);
      const before = contents[index] as ContentRow;
      const after = { ...before, length_seconds: random.int(30, 1_800) };
      contents[index] = after;
      emit('content', 'u', { id: after.id }, { id: before.id }, after);
    } else if (roll <= 6 && events.size > 0) {
      // Correct or delete an earlier event.
      const ids = [...events.keys()];
      const id = ids[random.int(0, ids.length - 1)] as number;
      const before = events.get(id) as EngagementRow;
      if (random.int(0, 1) === 0) {
        events.delete(id);
        emit('engagement_events', 'd', { id }, { id }, null);
      } else {
        const after = { ...before, duration_ms: random.int(0, 600_000) };
        events.set(id, after);
        emit('engagement_events', 'u', { id }, { id }, after);
      }
    } else {
      const id = nextEvent++;
      const content = random.pick(contents);
      // A few events happen a little before they are written (out of order), up to 3 s.
      const row: EngagementRow = { id, content_id: content.id, user_id: uuid(random.int(1, 200), 2), event_type: random.pick(EVENT_TYPES), event_ts: (now - random.int(0, 3_000)) * 1000, duration_ms: random.int(0, 600_000), device: random.pick([...DEVICES, null]), raw_payload: '{"ab":"b"}' };
      const bad = random.int(1, 100);
      if (bad === 1) row.event_type = null;
      else if (bad === 2) row.duration_ms = -random.int(1, 1_000);
      else if (bad === 3) row.device = 'smart-fridge';
      const valid = bad > 3;
      if (valid) events.set(id, row);
      emit('engagement_events', 'c', { id }, null, row, valid);
    }
  }
  return out.slice(0, options.count);
}

/**
 * The independent computation for the `engagement` job's tests: final `content` and
 * `engagement_events` tables from the same change events (invalid events never enter), then the
 * seed's outputs as queries over them, in integer units of 1e-4 for engagement.
 */
import type { DeviceStats, Enriched, WindowStats } from '../../examples/engagement/job.ts';

type Row = Record<string, unknown>;
type Raw = { table: string; value: Buffer | Uint8Array | null; valid?: boolean };

const EVENT_TYPES = new Set(['play', 'pause', 'complete', 'click']);
const DEVICES = new Set(['mobile', 'desktop', 'tablet', null]);

function isValid(row: Row): boolean {
  const d = row.duration_ms;
  return typeof row.event_type === 'string' && EVENT_TYPES.has(row.event_type) && typeof d === 'number' && Number.isInteger(d) && d >= 0 && DEVICES.has(row.device as string | null) && typeof row.content_id === 'string' && typeof row.user_id === 'string' && typeof row.event_ts === 'number';
}

export function expectedEngagement(events: readonly Raw[], windowMs: number) {
  const content = new Map<string, Row>();
  const rows = new Map<number, Row>();
  for (const e of events) {
    if (e.value === null) continue;
    const v = JSON.parse(Buffer.from(e.value).toString()) as { op: string; before: Row | null; after: Row | null };
    if (e.table === 'content') {
      if (v.op === 'd') content.delete(String(v.before?.id));
      else content.set(String(v.after?.id), v.after as Row);
    } else if (v.op === 'd') rows.delete(Number(v.before?.id));
    else if (isValid(v.after as Row)) rows.set(Number(v.after?.id), v.after as Row);
  }
  const enriched = new Map<string, Enriched>();
  const units = new Map<number, number | null>();
  for (const [id, r] of rows) {
    const c = content.get(String(r.content_id));
    if (c === undefined) continue;
    const length = c.length_seconds as number | null;
    const u = length === null || length <= 0 ? null : Math.round(((r.duration_ms as number) * 10) / length);
    units.set(id, u);
    enriched.set(String(id), {
      id, content_id: r.content_id as string, user_id: r.user_id as string, event_type: r.event_type as string,
      event_ts: new Date(Math.floor((r.event_ts as number) / 1000)).toISOString(), device: r.device as string | null,
      duration_ms: r.duration_ms as number, engagement_pct: u === null ? null : u / 10_000,
    });
  }
  const group = <K>(keyOf: (e: Enriched) => K) => {
    const groups = new Map<K, { events: number; completes: number; n: number; sum: number }>();
    for (const e of enriched.values()) {
      const g = groups.get(keyOf(e)) ?? { events: 0, completes: 0, n: 0, sum: 0 };
      groups.set(keyOf(e), g);
      g.events += 1;
      if (e.event_type === 'complete') g.completes += 1;
      const u = units.get(e.id) ?? null;
      if (u !== null) {
        g.n += 1;
        g.sum += u;
      }
    }
    return groups;
  };
  const avg = (g: { n: number; sum: number }) => (g.n === 0 ? null : Math.round(g.sum / g.n) / 10_000);
  const devices = new Map<string, DeviceStats>();
  for (const [device, g] of group((e) => e.device ?? 'unknown')) devices.set(device, { device, events: g.events, avg_engagement_pct: avg(g) });
  const windows = new Map<string, WindowStats>();
  for (const [start, g] of group((e) => Date.parse(e.event_ts) - (Date.parse(e.event_ts) % windowMs))) {
    const key = new Date(start).toISOString();
    windows.set(key, { window_start: key, window_end: new Date(start + windowMs).toISOString(), events: g.events, completes: g.completes, avg_engagement_pct: avg(g) });
  }
  return { enriched, devices, windows, invalid: events.filter((e) => e.valid === false).length };
}

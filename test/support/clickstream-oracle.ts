/**
 * The independent computation for the `clickstream` job's tests, from the produced records: the
 * clean events (valid, first of each id), the type 2 dimension of users (a version per change,
 * closed by the next), and per 5-minute window the sessions seen and those with a purchase.
 */
import type { ClickEvent, ClickRecord } from '../../examples/clickstream/data.ts';
import type { Conversion, UserVersion } from '../../examples/clickstream/job.ts';

export function expectedClickstream(records: readonly ClickRecord[], windowMs: number) {
  const clean = new Map<string, ClickEvent>();
  const dim = new Map<string, UserVersion>();
  const versions = new Map<number, UserVersion>();
  for (const r of records) {
    const value = JSON.parse(r.value.toString()) as Record<string, unknown>;
    if (r.kind === 'event' && !clean.has(value.event_id as string)) clean.set(value.event_id as string, value as ClickEvent);
    if (r.kind !== 'user') continue;
    const change = value as { op: string; after: Record<string, unknown> | null; before: { user_id: number }; source: { ts_ms: number } };
    const id = (change.after?.user_id as number | undefined) ?? change.before.user_id;
    const at = new Date(change.source.ts_ms).toISOString();
    const current = versions.get(id);
    if (current !== undefined && current.is_current) dim.set(`${id}:${current.version}`, { ...current, valid_to: at, is_current: false });
    const version = (current?.version ?? 0) + (change.after === null ? 0 : 1);
    if (change.after === null) {
      if (current !== undefined) versions.set(id, { ...current, is_current: false });
      continue;
    }
    const opened = { ...(change.after as object), version, valid_from: at, valid_to: null, is_current: true } as UserVersion;
    versions.set(id, opened);
    dim.set(`${id}:${version}`, opened);
  }
  const windows = new Map<number, Map<string, boolean>>();
  for (const e of clean.values()) {
    const start = e.ts - (e.ts % windowMs);
    const sessions = windows.get(start) ?? new Map<string, boolean>();
    windows.set(start, sessions);
    sessions.set(e.session_id, (sessions.get(e.session_id) ?? false) || e.event_type === 'purchase');
  }
  const conversion = new Map<string, Conversion>();
  for (const [start, sessions] of windows) {
    const converted = [...sessions.values()].filter(Boolean).length;
    const key = new Date(start).toISOString();
    conversion.set(key, { window_start: key, window_end: new Date(start + windowMs).toISOString(), sessions: sessions.size, converted, conversion_rate: Math.round((converted / sessions.size) * 10_000) / 10_000 });
  }
  const maxTs = Math.max(...[...clean.values()].map((e) => e.ts));
  return { clean, dim, conversion, maxTs, duplicates: records.filter((r) => r.kind === 'duplicate').length, invalid: records.filter((r) => r.kind === 'invalid').length };
}

/**
 * The `engagement` job (seed 001): Debezium change events of `engagement_events`, validated,
 * joined to `content` (engagement_pct = duration_ms / (length_seconds * 1000)), then aggregated
 * per device and per 10-minute window of event time; invalid events go to the dead-letter topic.
 *
 *     engagement_events ⋈ content (foreign key) ─▶ enrich ─▶ <prefix>.enriched (upsert by event id)
 *                                                         ├─group by device─▶ <prefix>.by_device
 *                                                         └─group by window─▶ <prefix>.engagement_10m
 *
 * A re-cut clip (new length) or a corrected or deleted event retracts what it fed and adds the
 * new values, so every aggregate equals the query over the current tables.
 */
import { avg, count, debezium, isoUtc, kafkaSink, kafkaSource, optionsFromEnv, rules, streamsJob } from '../../job/api.ts';
import { DEVICES, EVENT_TYPES, type ContentRow, type EngagementRow } from './data.ts';

/** What can be tuned. */
export type EngagementOptions = { topicPrefix: string; partitions: number; windowMs: number };
export const DEFAULTS: EngagementOptions = { topicPrefix: 'engagement', partitions: 12, windowMs: 10 * 60_000 };

/** An event with its content's length and its engagement, as `<prefix>.enriched` holds it. */
export type Enriched = { id: number; content_id: string; user_id: string; event_type: string; event_ts: string; device: string | null; duration_ms: number; engagement_pct: number | null };
/** A `<prefix>.by_device` value. */
export type DeviceStats = { device: string; events: number; avg_engagement_pct: number | null };
/** A `<prefix>.engagement_10m` value. */
export type WindowStats = { window_start: string; window_end: string; events: number; completes: number; avg_engagement_pct: number | null };

/** Engagement as a fraction rounded to 4 decimals; null without a positive length. */
export function engagementPct(durationMs: number, lengthSeconds: number | null): number | null {
  // duration / (length * 1000), in units of 1e-4: one exact division of integers, then rounding.
  return lengthSeconds === null || lengthSeconds <= 0 ? null : Math.round((durationMs * 10) / lengthSeconds) / 10_000;
}

/** The event rules: what the seed's Spark job dropped into its DLQ, declared. */
export const validEvent = rules<EngagementRow>({
  required: ['id', 'content_id', 'user_id', 'event_type', 'event_ts', 'duration_ms'],
  types: { id: 'integer', duration_ms: 'integer', event_ts: 'integer', content_id: 'string', user_id: 'string' },
  ranges: { duration_ms: { min: 0 } },
  allowed: { event_type: EVENT_TYPES, device: DEVICES },
});

export function createEngagementJob(options: Partial<EngagementOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const sink = (name: string) => kafkaSink(`${o.topicPrefix}.${name}`, { partitions: o.partitions, upsert: true });
  const topic = (table: string) => `${o.topicPrefix}.public.${table}`;
  const spec = {
    name: o.topicPrefix,
    sources: {
      content: kafkaSource(topic('content'), { format: debezium<ContentRow>(), partitions: o.partitions }),
      events: kafkaSource(topic('engagement_events'), { format: debezium<EngagementRow>({ validate: validEvent }), partitions: o.partitions }),
    },
    sinks: { enriched: sink('enriched'), devices: sink('by_device'), windows: sink('engagement_10m') },
    watermark: { outOfOrdernessMs: 5_000 },
  };
  return streamsJob(spec, (b) => {
    const lengths = b.table('content', 'id').mapValues((c) => ({ seconds: c.length_seconds }));
    const enriched = b.table('events', 'id').joinForeign('enrich', lengths, (e) => e.content_id, (e, length): Enriched => ({
      id: e.id,
      content_id: e.content_id as string,
      user_id: e.user_id as string,
      event_type: e.event_type as string,
      event_ts: isoUtc(Math.floor((e.event_ts as number) / 1000)),
      device: e.device,
      duration_ms: e.duration_ms as number,
      engagement_pct: engagementPct(e.duration_ms as number, length?.seconds ?? null),
    }));
    enriched.to('enriched');
    // Every event counts; the average is over the events whose engagement is known (SQL's AVG skips nulls).
    const stats = { events: count<Enriched>(), pct: avg((e: Enriched) => e.engagement_pct, { scale: 4 }) };
    enriched
      .groupBy((e) => e.device ?? 'unknown')
      .aggregate('devices', stats, { result: (r, device): DeviceStats => ({ device, events: r.events, avg_engagement_pct: r.pct }) })
      .to('devices');
    enriched
      .groupBy((e) => isoUtc(Date.parse(e.event_ts) - (Date.parse(e.event_ts) % o.windowMs)))
      .aggregate('windows', { ...stats, completes: count((e: Enriched) => e.event_type === 'complete') }, {
        result: (r, start): WindowStats => ({ window_start: start, window_end: isoUtc(Date.parse(start) + o.windowMs), events: r.events, completes: r.completes, avg_engagement_pct: r.pct }),
      })
      .to('windows');
  });
}

/** Options from `EDDY_ENGAGEMENT` (JSON, any subset of {@link EngagementOptions}). */
export default createEngagementJob(optionsFromEnv('EDDY_ENGAGEMENT', DEFAULTS));

/**
 * The `engagement` job (seed 001): Debezium change events of `engagement_events`, validated,
 * joined to `content` (engagement_pct = duration_ms / (length_seconds * 1000)), then aggregated
 * per device and per 10-minute window of event time; invalid events go to the dead-letter topic.
 *
 *     engagement_events ─events─▶ eventsByContent ─┐
 *     content ──────────content─▶ contentById ─────┴─enrich─▶ <prefix>.enriched (upsert by event id)
 *                                                        ├──▶ byDevice ─devices─▶ <prefix>.by_device
 *                                                        └──▶ byWindow ─windows─▶ <prefix>.engagement_10m
 *
 * A re-cut clip (new length) or a corrected or deleted event retracts what it fed and adds the
 * new values, so every aggregate equals the query over the current tables.
 */
import {
  aggregate,
  cdcTable,
  avg,
  changesBetween,
  emitChanges,
  count,
  debezium,
  defineJob,
  isoUtc,
  kafkaSink,
  kafkaSource,
  keyedActor,
  manyToOne,
  repartition,
  rules,
  tumbling,
  upsertValue,
  type Change,
  type JoinState,
  type Tagged,
} from '../../job/api.ts';
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

type Length = { id: string; length_seconds: number | null };

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

const join = manyToOne(
  (e: EngagementRow) => String(e.id),
  (e: EngagementRow, c: Length | null): Enriched => ({
    id: e.id,
    content_id: e.content_id as string,
    user_id: e.user_id as string,
    event_type: e.event_type as string,
    event_ts: isoUtc(Math.floor((e.event_ts as number) / 1000)),
    device: e.device,
    duration_ms: e.duration_ms as number,
    engagement_pct: engagementPct(e.duration_ms as number, c?.length_seconds ?? null),
  }),
);
// Averages over the events whose engagement is known (a clip without a length has none).
const stats = aggregate({ events: count<Enriched>(), avgPct: avg((e: Enriched) => e.engagement_pct ?? 0, { scale: 4 }) });

export function createEngagementJob(options: Partial<EngagementOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const windowOf = tumbling(o.windowMs);
  const sink = (name: string) => kafkaSink(`${o.topicPrefix}.${name}`, { partitions: o.partitions, upsert: true });
  // Events without a known engagement count as events but not in the average: two aggregates.
  const pctOf = (changes: Change<Enriched>[]) => changes.filter((c) => c.row.engagement_pct !== null);
  type Group = { all: ReturnType<typeof stats.init>; known: ReturnType<typeof stats.init>; completes: number };
  const group0 = (): Group => ({ all: stats.init(), known: stats.init(), completes: 0 });
  const apply = (g: Group, c: Change<Enriched>): Group => ({
    all: stats.apply(g.all, c),
    known: pctOf([c]).reduce((s, x) => stats.apply(s, x), g.known),
    completes: g.completes + (c.row.event_type === 'complete' ? (c.op === 'insert' || c.op === 'update-after' ? 1 : -1) : 0),
  });
  const avgOf = (g: Group) => stats.result(g.known).avgPct;

  return defineJob({
    name: o.topicPrefix,
    sources: {
      content: kafkaSource(`${o.topicPrefix}.public.content`, { format: debezium<ContentRow>(), partitions: o.partitions }),
      events: kafkaSource(`${o.topicPrefix}.public.engagement_events`, { format: debezium<EngagementRow>({ validate: validEvent }), partitions: o.partitions }),
    },
    sinks: { enriched: sink('enriched'), devices: sink('by_device'), windows: sink('engagement_10m') },
    repartitions: {
      eventsByContent: repartition<Change<EngagementRow>>('content_id'),
      contentById: repartition<Change<Length>>('content_id'),
      byDevice: repartition<Change<Enriched>>('device'),
      byWindow: repartition<Change<Enriched>>('window_start'),
    },
    watermark: { outOfOrdernessMs: 5_000 },
    actors: {
      events: cdcTable<EngagementRow>({
        from: 'events',
        key: 'id',
        onChange: (changes, _rows, ctx) => changes.forEach((c) => emitChanges(ctx, 'eventsByContent', c.row.content_id as string, [c])),
      }),
      content: cdcTable<ContentRow>({
        from: 'content',
        key: 'id',
        onChange(_changes, { before, after }, ctx) {
          const length = (r: ContentRow | null): Length | null => (r === null ? null : { id: r.id, length_seconds: r.length_seconds });
          emitChanges(ctx, 'contentById', ctx.key, changesBetween(length(before), length(after), ctx.eventTime));
        },
      }),
      enrich: keyedActor({
        from: ['eventsByContent', 'contentById'],
        key: (r: Tagged<{ eventsByContent: Change<EngagementRow>; contentById: Change<Length> }>) => (r.source === 'contentById' ? r.value.row.id : (r.value.row.content_id as string)),
        initial: (): JoinState<EngagementRow, Length> => join.init(),
        onRecord(r, state, ctx) {
          const { state: next, changes } = r.source === 'eventsByContent' ? join.many(state, r.value) : join.one(state, r.value);
          for (const c of changes) {
            const upsert = upsertValue(c);
            if (upsert !== undefined) ctx.emit('enriched', String(c.row.id), upsert.value);
            const eventMs = Date.parse(c.row.event_ts);
            emitChanges(ctx, 'byDevice', c.row.device ?? 'unknown', [{ ...c, ts: eventMs }]);
            emitChanges(ctx, 'byWindow', isoUtc((windowOf(eventMs)[0] as { start: number }).start), [{ ...c, ts: eventMs }]);
          }
          return next;
        },
      }),
      devices: keyedActor({
        from: 'byDevice',
        key: (c: Change<Enriched>) => c.row.device ?? 'unknown',
        initial: group0,
        onRecord(c, g, ctx) {
          const next = apply(g, c);
          const value: DeviceStats = { device: ctx.key, events: stats.result(next.all).events, avg_engagement_pct: avgOf(next) };
          ctx.emit('devices', ctx.key, value.events === 0 ? null : value);
          return next;
        },
      }),
      windows: keyedActor({
        from: 'byWindow',
        key: (_c: Change<Enriched>, meta) => meta.key ?? '',
        initial: group0,
        onRecord(c, g, ctx) {
          const next = apply(g, c);
          const events = stats.result(next.all).events;
          const value: WindowStats = { window_start: ctx.key, window_end: isoUtc(Date.parse(ctx.key) + o.windowMs), events, completes: next.completes, avg_engagement_pct: avgOf(next) };
          ctx.emit('windows', ctx.key, events === 0 ? null : value);
          return events === 0 ? group0() : next;
        },
      }),
    },
  });
}

/** Options from `EDDY_ENGAGEMENT` (JSON, any subset of {@link EngagementOptions}). */
export default createEngagementJob(JSON.parse(process.env.EDDY_ENGAGEMENT ?? '{}') as Partial<EngagementOptions>);

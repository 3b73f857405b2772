/**
 * The `clickstream` job (seed 002): JSON clickstream events, validated and de-duplicated by
 * event id (silver), a slowly changing (type 2) dimension of users from their Debezium change
 * events, and the conversion rate per 5-minute window of event time, emitted once the window
 * closes (gold).
 *
 *     <prefix>.events ─dedup─▶ <prefix>.events_clean (one per event id)
 *                        └─5-minute windows─▶ <prefix>.conversion_5m (on window close; late ones to <prefix>.late)
 *     <prefix>.public.users ─users─▶ <prefix>.users_dim (SCD type 2: valid_from, valid_to, is_current)
 */
import { isoUtc, json, debezium, kafkaSink, kafkaSource, optionsFromEnv, rules, streamsJob, tumbling, type LateRecord } from '../../job/api.ts';
import { EVENT_TYPES, type ClickEvent, type UserRow } from './data.ts';

/** What can be tuned. */
export type ClickstreamOptions = {
  topicPrefix: string;
  partitions: number;
  /** A repeat of an event id within this much event time is a duplicate. */
  dedupWindowMs: number;
  windowMs: number;
  /** How long after its end (event time) a window still takes events. */
  allowedLatenessMs: number;
  outOfOrdernessMs: number;
};
export const DEFAULTS: ClickstreamOptions = { topicPrefix: 'clickstream', partitions: 12, dedupWindowMs: 10 * 60_000, windowMs: 5 * 60_000, allowedLatenessMs: 30_000, outOfOrdernessMs: 5_000 };

/** A `<prefix>.users_dim` value, keyed `<user_id>:<version>`. */
export type UserVersion = UserRow & { version: number; valid_from: string; valid_to: string | null; is_current: boolean };
/** A `<prefix>.conversion_5m` value. */
export type Conversion = { window_start: string; window_end: string; sessions: number; converted: number; conversion_rate: number };
export type { LateRecord };

/** The event rules: the seed's JSON schema, declared. */
export const validClick = rules<ClickEvent>({
  required: ['event_id', 'user_id', 'session_id', 'event_type', 'ts'],
  types: { event_id: 'string', user_id: 'integer', session_id: 'string', ts: 'integer', product_id: 'integer', price: 'number' },
  ranges: { price: { positive: true } },
  allowed: { event_type: EVENT_TYPES },
  checks: [(e) => (e.event_type === 'purchase' && e.price === null ? ['price', 'is required for a purchase'] : null)],
});

export function createClickstreamJob(options: Partial<ClickstreamOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const sink = (name: string, upsert = false) => kafkaSink(`${o.topicPrefix}.${name}`, { partitions: o.partitions, upsert });
  const spec = {
    name: o.topicPrefix,
    sources: {
      events: kafkaSource(`${o.topicPrefix}.events`, { format: json<ClickEvent>({ validate: validClick }), partitions: o.partitions }),
      users: kafkaSource(`${o.topicPrefix}.public.users`, { format: debezium<UserRow>(), partitions: o.partitions }),
    },
    sinks: { clean: sink('events_clean'), dim: sink('users_dim', true), conversion: sink('conversion_5m'), late: sink('late') },
    watermark: { outOfOrdernessMs: o.outOfOrdernessMs, idleSourceMs: 15_000 },
  };
  return streamsJob(spec, (b) => {
    const clean = b.stream('events', { eventTime: (e) => e.ts }).distinct('dedup', (e) => e.event_id, o.dedupWindowMs);
    clean.to('clean');
    // Per window: sessions seen and sessions that bought; emitted once, when the window closes.
    clean
      .groupBy(() => '')
      .windowedBy(tumbling(o.windowMs), { allowedLatenessMs: o.allowedLatenessMs, late: 'late' })
      .aggregate('conversion', {
        init: (): Record<string, boolean> => ({}),
        add: (sessions, e) => ({ ...sessions, [e.session_id]: sessions[e.session_id] === true || e.event_type === 'purchase' }),
        result(sessions, { start, end }): Conversion {
          const all = Object.values(sessions);
          const converted = all.filter(Boolean).length;
          return { window_start: isoUtc(start), window_end: isoUtc(end), sessions: all.length, converted, conversion_rate: Math.round((converted / all.length) * 10_000) / 10_000 };
        },
      })
      .to('conversion');
    // SCD type 2: every change closes the current version and opens the next.
    b.stream('users')
      .process('users', (c) => String((c.after ?? c.before)?.user_id), {
        initial: (): { version: number; current: UserVersion | null } => ({ version: 0, current: null }),
        onRecord(change, state, ctx, emit) {
          if (change.op !== 'c' && change.op !== 'r' && change.op !== 'u' && change.op !== 'd') return;
          const at = isoUtc(change.source.ts_ms);
          if (state.current !== null) emit(`${ctx.key}:${state.version}`, { ...state.current, valid_to: at, is_current: false });
          if (change.after === null) return { version: state.version, current: null };
          const opened: UserVersion = { ...change.after, version: state.version + 1, valid_from: at, valid_to: null, is_current: true };
          emit(`${ctx.key}:${opened.version}`, opened);
          return { version: opened.version, current: opened };
        },
      })
      .to('dim');
  });
}

/** Options from `EDDY_CLICKSTREAM` (JSON, any subset of {@link ClickstreamOptions}). */
export default createClickstreamJob(optionsFromEnv('EDDY_CLICKSTREAM', DEFAULTS));

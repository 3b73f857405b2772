/**
 * The `clickstream` job (seed 002): JSON clickstream events, validated and de-duplicated by
 * event id (silver), a slowly changing (type 2) dimension of users from their Debezium change
 * events, and the conversion rate per 5-minute window of event time, emitted once the window
 * closes (gold).
 *
 *     <prefix>.events ─dedup─▶ <prefix>.events_clean (one per event id)
 *                        └───▶ byWindow ─conversion─▶ <prefix>.conversion_5m (on window close; late ones to <prefix>.late)
 *     <prefix>.public.users ─users─▶ <prefix>.users_dim (SCD type 2: valid_from, valid_to, is_current)
 */
import {
  debezium,
  defineJob,
  isClosed,
  isoUtc,
  json,
  kafkaSink,
  kafkaSource,
  keyedActor,
  lateReason,
  repartition,
  rules,
  tumbling,
  type DebeziumChange,
} from '../../job/api.ts';
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
/** A `<prefix>.late` value. */
export type LateEvent = { event_id: string; event_time: string; reason: string };

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
  const windowOf = tumbling(o.windowMs);
  const sink = (name: string) => kafkaSink(`${o.topicPrefix}.${name}`, { partitions: o.partitions });
  return defineJob({
    name: o.topicPrefix,
    sources: {
      events: kafkaSource(`${o.topicPrefix}.events`, { format: json<ClickEvent>({ validate: validClick }), partitions: o.partitions }),
      users: kafkaSource(`${o.topicPrefix}.public.users`, { format: debezium<UserRow>(), partitions: o.partitions }),
    },
    sinks: { clean: sink('events_clean'), dim: kafkaSink(`${o.topicPrefix}.users_dim`, { partitions: o.partitions, upsert: true }), conversion: sink('conversion_5m'), late: sink('late') },
    repartitions: { byWindow: repartition<ClickEvent>('window_start') },
    watermark: { outOfOrdernessMs: o.outOfOrdernessMs, idleSourceMs: 15_000 },
    actors: {
      // One actor per event id: the first passes, repeats within the window are counted and dropped.
      dedup: keyedActor({
        from: 'events',
        key: (e: ClickEvent) => e.event_id,
        eventTime: (e) => e.ts,
        initial: () => ({ seen: false }),
        onRecord(event, state, ctx) {
          if (state.seen) {
            ctx.count('duplicates');
            return;
          }
          ctx.emit('clean', event.event_id, event);
          ctx.emit('byWindow', isoUtc((windowOf(event.ts)[0] as { start: number }).start), event, { timestamp: event.ts });
          ctx.timers.atEventTime(event.ts + o.dedupWindowMs); // then forget the id (state TTL)
          return { seen: true };
        },
        onTimer: () => ({ seen: false }),
      }),
      // SCD type 2: every change closes the current version and opens the next.
      users: keyedActor({
        from: 'users',
        key: (c: DebeziumChange<UserRow>) => String((c.after ?? c.before)?.user_id),
        initial: (): { version: number; current: UserVersion | null } => ({ version: 0, current: null }),
        onRecord(change, state, ctx) {
          if (change.op !== 'c' && change.op !== 'r' && change.op !== 'u' && change.op !== 'd') return;
          const at = isoUtc(change.source.ts_ms);
          if (state.current !== null) {
            const closed: UserVersion = { ...state.current, valid_to: at, is_current: false };
            ctx.emit('dim', `${ctx.key}:${closed.version}`, closed);
          }
          if (change.after === null) return { version: state.version, current: null };
          const opened: UserVersion = { ...change.after, version: state.version + 1, valid_from: at, valid_to: null, is_current: true };
          ctx.emit('dim', `${ctx.key}:${opened.version}`, opened);
          return { version: opened.version, current: opened };
        },
      }),
      // Per window: sessions seen and sessions that bought; emitted once, when the window closes.
      conversion: keyedActor({
        from: 'byWindow',
        key: (_e: ClickEvent, meta) => meta.key ?? '',
        initial: (): { sessions: Record<string, boolean> } => ({ sessions: {} }),
        onRecord(event, state, ctx) {
          const window = windowOf(event.ts)[0] as { start: number; end: number };
          if (isClosed(window.end, ctx.watermark, o.allowedLatenessMs)) {
            ctx.count('late');
            const late: LateEvent = { event_id: event.event_id, event_time: isoUtc(event.ts), reason: lateReason(event.ts, window, ctx.watermark, o.allowedLatenessMs) };
            ctx.emit('late', event.event_id, late);
            return;
          }
          state.sessions[event.session_id] = (state.sessions[event.session_id] ?? false) || event.event_type === 'purchase';
          ctx.timers.atEventTime(window.end + o.allowedLatenessMs);
        },
        onTimer(timer, state, ctx) {
          const start = timer.timestampMs - o.allowedLatenessMs - o.windowMs;
          const sessions = Object.values(state.sessions);
          const converted = sessions.filter(Boolean).length;
          const value: Conversion = { window_start: isoUtc(start), window_end: isoUtc(start + o.windowMs), sessions: sessions.length, converted, conversion_rate: Math.round((converted / sessions.length) * 10_000) / 10_000 };
          ctx.emit('conversion', ctx.key, value);
          return { sessions: {} }; // the window is done: its state goes
        },
      }),
    },
  });
}

/** Options from `EDDY_CLICKSTREAM` (JSON, any subset of {@link ClickstreamOptions}). */
export default createClickstreamJob(JSON.parse(process.env.EDDY_CLICKSTREAM ?? '{}') as Partial<ClickstreamOptions>);

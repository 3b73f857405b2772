/**
 * Seeded demo data for the `clickstream` job (seed 002): JSON clickstream events on
 * `<prefix>.events` (key = user id) from users moving through sessions by a Markov chain
 * (page_view -> add_to_cart -> checkout -> purchase, abandoning on the way), with ~2% of events
 * sent twice (a producer retry) and ~2% invalid; and Debezium change events of the `users` table
 * on `<prefix>.public.users` (sign-ups, tier and email changes, a few deletions).
 */
import { SeededRandom } from '../../loadtest/cdc/random.ts';

/** A clickstream event as produced. `ts` is event time, ms since the epoch. */
export type ClickEvent = { event_id: string; user_id: number; session_id: string; event_type: string; product_id: number | null; price: number | null; ts: number };
/** A `users` row. */
export type UserRow = { user_id: number; email: string; tier: string; country: string };
/** One record to produce. `kind` says what the test should expect of it. */
export type ClickRecord = { topic: string; key: Buffer; value: Buffer; timestampMs: number; kind: 'event' | 'duplicate' | 'invalid' | 'user' };

export const EVENT_TYPES = ['page_view', 'add_to_cart', 'checkout', 'purchase'] as const;
const NEXT: Record<string, [string, number][]> = {
  start: [['page_view', 1]],
  page_view: [['page_view', 0.45], ['add_to_cart', 0.3], ['end', 0.25]],
  add_to_cart: [['page_view', 0.2], ['checkout', 0.5], ['end', 0.3]],
  checkout: [['purchase', 0.6], ['end', 0.4]],
  purchase: [['page_view', 0.2], ['end', 0.8]],
};

export type ClickDataOptions = { seed: number; count: number; prefix?: string; startMs?: number; users?: number };

/** `count` records in production order. */
export function clickRecords(options: ClickDataOptions): ClickRecord[] {
  const random = new SeededRandom(options.seed);
  const prefix = options.prefix ?? 'clickstream';
  let now = options.startMs ?? Date.UTC(2025, 0, 1);
  const users = new Map<number, UserRow>();
  const sessions = new Map<number, { id: string; state: string }>();
  const out: ClickRecord[] = [];
  let seq = 0;
  const userChange = (op: string, before: UserRow | null, after: UserRow | null) => {
    const id = (after ?? before)?.user_id as number;
    const value = { before: before === null ? null : { user_id: id }, after, source: { version: '3.1.0.Final', connector: 'postgresql', name: prefix, ts_ms: now, db: 'shop', schema: 'public', table: 'users' }, op, ts_ms: now + 2 };
    out.push({ topic: `${prefix}.public.users`, key: Buffer.from(JSON.stringify({ user_id: id })), value: Buffer.from(JSON.stringify(value)), timestampMs: now + 2, kind: 'user' });
  };
  for (let id = 1; id <= (options.users ?? 50); id++) {
    const row = { user_id: id, email: `user${id}@example.com`, tier: 'free', country: random.pick(['PL', 'DE', 'FR', 'US']) };
    users.set(id, row);
    userChange('r', null, row);
  }
  while (out.length < options.count) {
    now += random.int(200, 3_000);
    const roll = random.int(1, 100);
    if (roll <= 3) {
      const ids = [...users.keys()];
      const id = ids[random.int(0, ids.length - 1)] as number;
      const before = users.get(id) as UserRow;
      if (roll === 1 && users.size > 10) {
        users.delete(id);
        sessions.delete(id);
        userChange('d', before, null);
      } else {
        const after = { ...before, tier: random.pick(['free', 'plus', 'pro']), email: `user${id}.${random.int(1, 99)}@example.com` };
        users.set(id, after);
        userChange('u', before, after);
      }
      continue;
    }
    const ids = [...users.keys()];
    const user = ids[random.int(0, ids.length - 1)] as number;
    let session = sessions.get(user);
    if (session === undefined || session.state === 'end') {
      session = { id: `s${user}-${++seq}`, state: 'start' };
      sessions.set(user, session);
    }
    const r = random.int(1, 100) / 100;
    let acc = 0;
    let next = 'end';
    for (const [state, p] of NEXT[session.state] as [string, number][]) {
      acc += p;
      if (r <= acc) {
        next = state;
        break;
      }
    }
    session.state = next;
    if (next === 'end') continue;
    const product = next === 'page_view' || next === 'add_to_cart' || next === 'purchase' ? random.int(1, 40) : null;
    // Events happen up to 2 s before they are sent (out of order across users).
    const event: ClickEvent = { event_id: `e${++seq}`, user_id: user, session_id: session.id, event_type: next, product_id: product, price: next === 'purchase' ? random.int(100, 20_000) / 100 : null, ts: now - random.int(0, 2_000) };
    const bad = random.int(1, 100);
    const key = Buffer.from(String(user));
    if (bad <= 2) {
      const broken = bad === 1 ? { ...event, event_type: 'teleport' } : { ...event, price: -1, event_type: 'purchase' };
      out.push({ topic: `${prefix}.events`, key, value: Buffer.from(JSON.stringify(broken)), timestampMs: now, kind: 'invalid' });
      continue;
    }
    out.push({ topic: `${prefix}.events`, key, value: Buffer.from(JSON.stringify(event)), timestampMs: now, kind: 'event' });
    if (random.int(1, 50) === 1) out.push({ topic: `${prefix}.events`, key, value: Buffer.from(JSON.stringify(event)), timestampMs: now + 500, kind: 'duplicate' });
  }
  return out.slice(0, options.count);
}

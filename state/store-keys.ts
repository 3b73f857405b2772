/**
 * The key layout of a task's LevelDB. One prefix letter per kind of entry, parts joined by NUL,
 * timestamps zero-padded so that a range scan of `t` returns timers in firing order:
 *
 *   a\0<actor>\0<key>                                     actor state (JSON)
 *   e\0<actor>\0<key>                                     actor evicted since the last flush (JSON)
 *   t\0<kind>\0<ts, 16 digits>\0<actor>\0<key>\0<tag>     timer (JSON of StoredTimer)
 *   o\0<topic>                                            next offset to read (decimal string)
 *   w                                                     watermark (JSON of StoredWatermark)
 *
 * Parts that users choose (keys, tags) are escaped so they can hold NUL: \x01 → \x01\x02 and
 * \x00 → \x01\x01, which keeps keys distinct and timestamps in order.
 */

/** A timer as stored. `kind` and `timestampMs` follow the Job API's Timer. */
export type StoredTimer = {
  kind: 'event-time' | 'processing-time';
  /** Integer ms, 0 ≤ t < 10^16. */
  timestampMs: number;
  actor: string;
  key: string;
  tag: string;
};

/** Digits of a padded timestamp: enough for any ms date until the year 316,000,000. */
const TS_DIGITS = 16;

/** The largest timestamp a timer may have. */
export const TIMER_TS_MAX = 10 ** TS_DIGITS - 1;

const SEP = '\x00';

/** The entry kinds, by prefix. */
export const PREFIX = { actor: 'a', evicted: 'e', timer: 't', offset: 'o' } as const;

/** The single key holding the watermark. */
export const WATERMARK_KEY = 'w';

function escapePart(part: string): string {
  return part.replaceAll('\x01', '\x01\x02').replaceAll('\x00', '\x01\x01');
}

/** Key of an actor's state (`evicted`: its eviction copy, see task-store.ts). */
export function actorKey(actor: string, key: string, evicted = false): string {
  return [evicted ? PREFIX.evicted : PREFIX.actor, escapePart(actor), escapePart(key)].join(SEP);
}

/** Key of a timer; within one kind, keys sort by timestamp, then actor, key and tag. */
export function timerKey(timer: StoredTimer): string {
  const ts = String(timer.timestampMs).padStart(TS_DIGITS, '0');
  return [PREFIX.timer, timer.kind, ts, escapePart(timer.actor), escapePart(timer.key), escapePart(timer.tag)].join(SEP);
}

/** Key of a topic's next offset. */
export function offsetKey(topic: string): string {
  return PREFIX.offset + SEP + topic;
}

/** The topic of an offset key. */
export function topicOfOffsetKey(key: string): string {
  return key.slice(PREFIX.offset.length + SEP.length);
}

/** The range holding every key of one prefix. */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix + SEP, lt: prefix + '\x01' };
}

/**
 * The key layout of a task's LevelDB. One prefix letter per kind of entry, parts joined by NUL,
 * timestamps zero-padded so that a range scan of `t` returns timers in firing order:
 *
 *   a\0<actor>\0<key>                                     actor state (JSON)
 *   e\0<actor>\0<key>                                     actor evicted since the last flush (JSON)
 *   t\0<kind>\0<ts, 16 digits>\0<actor>\0<key>\0<tag>     timer (JSON of StoredTimer)
 *   o\0<topic>                                            next offset to read (decimal string)
 *   w                                                     watermark (JSON of StoredWatermark)
 *   b\0<epoch, 16 digits>\0<seq, 16 digits>               exactly-once output or dead letter not yet
 *                                                         published (JSON, see worker/runtime/output-codec.ts);
 *                                                         in snapshots only, see below
 *
 * Buffer keys sort by epoch, then by `seq`, a per-task counter that follows emission order, so
 * a range scan of `b` returns the buffer in the order it must be published. Everything but the
 * `e` entries goes into snapshots (see state/snapshot-format.ts). The `b` entries are the
 * exception among the others: a running task keeps its buffer in memory and merges it into
 * each snapshot under these keys (writing every output to LevelDB only to read it out and
 * delete it a second later cost more than the job's own work); a snapshot loaded into a
 * store brings them back, and opening the task takes them out again (TaskStore.takeBuffer).
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

/** Digits of padded numbers (timer timestamps: any ms date until the year 316,000,000; buffer epochs and seqs). */
const TS_DIGITS = 16;

/** The largest timestamp a timer may have. */
export const TIMER_TS_MAX = 10 ** TS_DIGITS - 1;

const SEP = '\x00';

/** The entry kinds, by prefix. */
export const PREFIX = { actor: 'a', evicted: 'e', timer: 't', offset: 'o', buffer: 'b' } as const;

/** Where one buffered output sits: its epoch, then its place in emission order. */
export type BufferRef = { epoch: number; seq: number };

/** The single key holding the watermark. */
export const WATERMARK_KEY = 'w';

function escapePart(part: string): string {
  return part.replaceAll('\x01', '\x01\x02').replaceAll('\x00', '\x01\x01');
}

/** Key of an actor's state (`evicted`: its eviction copy, see task-store.ts). */
export function actorKey(actor: string, key: string, evicted = false): string {
  return [evicted ? PREFIX.evicted : PREFIX.actor, escapePart(actor), escapePart(key)].join(SEP);
}

/** The range of every state key (`evicted`: eviction entry) of one actor. */
export function actorRange(actor: string, evicted = false): { gte: string; lt: string } {
  const prefix = [evicted ? PREFIX.evicted : PREFIX.actor, escapePart(actor), ''].join(SEP);
  return { gte: prefix, lt: prefix.slice(0, -1) + '\x01' };
}

/** The actor key part of a state key made by {@link actorKey}. */
export function keyOfActorKey(storeKey: string): string {
  const escaped = storeKey.slice(storeKey.indexOf(SEP, storeKey.indexOf(SEP) + 1) + 1);
  return escaped.replaceAll('\x01\x01', '\x00').replaceAll('\x01\x02', '\x01');
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

/** Key of a buffered output; both parts are integers in [0, 10^16). */
export function bufferKey({ epoch, seq }: BufferRef): string {
  return [PREFIX.buffer, String(epoch).padStart(TS_DIGITS, '0'), String(seq).padStart(TS_DIGITS, '0')].join(SEP);
}

/** The epoch and seq of a buffer key. */
export function parseBufferKey(key: string): BufferRef {
  const [prefix, epoch, seq] = key.split(SEP);
  if (prefix !== PREFIX.buffer || epoch === undefined || seq === undefined) throw new RangeError(`not a buffer key: ${JSON.stringify(key)}`);
  return { epoch: Number(epoch), seq: Number(seq) };
}

/** The range holding every key of one prefix. */
export function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix + SEP, lt: prefix + '\x01' };
}

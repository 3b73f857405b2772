/**
 * The task's write-ahead buffer of exactly-once outputs and dead letters not yet published,
 * each with the epoch it was produced in, in emission order. It lives in memory, not in the
 * task's LevelDB: each barrier seals what was added since the last one (encoding it once, under
 * its store key) and the barrier's snapshot holds every sealed entry not yet published, so a
 * restore finds the outputs of every epoch its checkpoint covers. Published ones are dropped.
 */
import { IllegalStateError } from '../../common/errors.ts';
import { bufferKey } from '../../state/store-keys.ts';
import type { RawEntry, StoredBufferEntry } from '../../state/task-store.ts';
import type { BufferedOutput } from '../thread-protocol.ts';
import { decodeBuffered, encodeBuffered } from './output-codec.ts';

type Fresh = { seq: number; item: BufferedOutput };
type Sealed = Fresh & { raw: RawEntry };

export class OutputBuffer {
  /** Sealed by a barrier (or restored from a checkpoint): epochs up to the last barrier. */
  private sealed: Sealed[];
  /** Added since the last barrier; null where an upsert output was replaced by a later one of its key. */
  private fresh: (Fresh | null)[] = [];
  /** Per upsert sink and key, where its latest output since the last barrier is in `fresh`. */
  private freshUpserts = new Map<string, number>();
  private nextSeq: number;

  /**
   * A buffer holding what a restored store held (`stored`, in key order).
   * @param upsertSinks sinks whose outputs of one epoch keep only the last value per key
   */
  constructor(stored: readonly StoredBufferEntry[], private readonly upsertSinks: ReadonlySet<string> = new Set()) {
    this.sealed = stored.map(({ epoch, seq, json }) => {
      const item = decodeBuffered(json);
      if (item.epoch !== epoch) throw new IllegalStateError(`buffered output ${epoch}/${seq} says it is of epoch ${item.epoch}`);
      return { seq, item, raw: rawEntry(seq, item, json) };
    });
    this.nextSeq = (this.sealed.at(-1)?.seq ?? 0) + 1;
  }

  /** Entries held, sealed or not. */
  get size(): number {
    return this.sealed.length + this.fresh.length - this.replaced;
  }

  private replaced = 0;

  /** Adds an output (or dead letter) of the current epoch, after all others. */
  append(item: BufferedOutput): void {
    const last = this.fresh.at(-1) ?? this.sealed.at(-1);
    if (last !== undefined && last !== null && item.epoch < last.item.epoch) throw new IllegalStateError(`epoch ${item.epoch} after epoch ${last.item.epoch}`);
    if ('output' in item && item.output.key !== null && this.upsertSinks.has(item.output.sink)) {
      const id = `${item.output.sink}\u0000${item.output.key}`;
      const earlier = this.freshUpserts.get(id);
      if (earlier !== undefined) {
        this.fresh[earlier] = null; // a compacted topic's readers would see only the last one
        this.replaced += 1;
      }
      this.freshUpserts.set(id, this.fresh.length);
    }
    this.fresh.push({ seq: this.nextSeq, item });
    this.nextSeq += 1;
  }

  /**
   * A barrier: seals what was added since the last one and returns every sealed entry as
   * snapshot entries, in key order. Later appends and drops do not change the returned array.
   */
  seal(): RawEntry[] {
    for (const entry of this.fresh) if (entry !== null) this.sealed.push({ ...entry, raw: rawEntry(entry.seq, entry.item, encodeBuffered(entry.item)) });
    this.clearFresh();
    return this.sealed.map(({ raw }) => raw);
  }

  /** Drops what was added since the last barrier (outputs of a replay); returns how many. */
  discardFresh(): number {
    const count = this.fresh.length - this.replaced;
    this.clearFresh();
    return count;
  }

  private clearFresh(): void {
    this.fresh = [];
    this.freshUpserts = new Map();
    this.replaced = 0;
  }

  /** The sealed entries of epochs ≤ `checkpointId`, in order. */
  upTo(checkpointId: number): BufferedOutput[] {
    return this.sealed.slice(0, this.countUpTo(checkpointId)).map(({ item }) => item);
  }

  /** Drops the entries of epochs ≤ `checkpointId` (they are published). */
  dropUpTo(checkpointId: number): void {
    this.sealed.splice(0, this.countUpTo(checkpointId));
  }

  private countUpTo(checkpointId: number): number {
    const firstFresh = this.fresh.find((entry) => entry !== null); // epochs never go down: the first has the lowest
    if (firstFresh !== undefined && firstFresh !== null && firstFresh.item.epoch <= checkpointId) throw new IllegalStateError(`outputs of epoch ≤ ${checkpointId} were never sealed by a barrier`);
    const end = this.sealed.findIndex(({ item }) => item.epoch > checkpointId);
    return end === -1 ? this.sealed.length : end;
  }
}

function rawEntry(seq: number, item: BufferedOutput, json: string): RawEntry {
  return [Buffer.from(bufferKey({ epoch: item.epoch, seq }), 'latin1'), Buffer.from(json, 'utf8')];
}

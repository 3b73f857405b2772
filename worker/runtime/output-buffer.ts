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
  /** Added since the last barrier. */
  private fresh: Fresh[] = [];
  private nextSeq: number;

  /** A buffer holding what a restored store held (`stored`, in key order). */
  constructor(stored: readonly StoredBufferEntry[]) {
    this.sealed = stored.map(({ epoch, seq, json }) => {
      const item = decodeBuffered(json);
      if (item.epoch !== epoch) throw new IllegalStateError(`buffered output ${epoch}/${seq} says it is of epoch ${item.epoch}`);
      return { seq, item, raw: rawEntry(seq, item, json) };
    });
    this.nextSeq = (this.sealed.at(-1)?.seq ?? 0) + 1;
  }

  /** Entries held, sealed or not. */
  get size(): number {
    return this.sealed.length + this.fresh.length;
  }

  /** Adds an output (or dead letter) of the current epoch, after all others. */
  append(item: BufferedOutput): void {
    const last = this.fresh.at(-1) ?? this.sealed.at(-1);
    if (last !== undefined && item.epoch < last.item.epoch) throw new IllegalStateError(`epoch ${item.epoch} after epoch ${last.item.epoch}`);
    this.fresh.push({ seq: this.nextSeq, item });
    this.nextSeq += 1;
  }

  /**
   * A barrier: seals what was added since the last one and returns every sealed entry as
   * snapshot entries, in key order. Later appends and drops do not change the returned array.
   */
  seal(): RawEntry[] {
    for (const { seq, item } of this.fresh) this.sealed.push({ seq, item, raw: rawEntry(seq, item, encodeBuffered(item)) });
    this.fresh = [];
    return this.sealed.map(({ raw }) => raw);
  }

  /** Drops what was added since the last barrier (outputs of a replay); returns how many. */
  discardFresh(): number {
    const count = this.fresh.length;
    this.fresh = [];
    return count;
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
    const firstFresh = this.fresh[0]; // epochs never go down: the first has the lowest
    if (firstFresh !== undefined && firstFresh.item.epoch <= checkpointId) throw new IllegalStateError(`outputs of epoch ≤ ${checkpointId} were never sealed by a barrier`);
    const end = this.sealed.findIndex(({ item }) => item.epoch > checkpointId);
    return end === -1 ? this.sealed.length : end;
  }
}

function rawEntry(seq: number, item: BufferedOutput, json: string): RawEntry {
  return [Buffer.from(bufferKey({ epoch: item.epoch, seq }), 'latin1'), Buffer.from(json, 'utf8')];
}

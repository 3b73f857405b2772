/**
 * The task's write-ahead buffer of exactly-once outputs and dead letters not yet published,
 * each with the epoch it was produced in, in emission order. Entries added since the last
 * barrier live only here until that barrier writes them (so each checkpoint holds every output
 * of its epochs that is not yet published); published ones are dropped from memory and store.
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { BufferRef, StoredBufferEntry } from '../../state/task-store.ts';
import type { BufferedOutput } from '../thread-protocol.ts';
import { decodeBuffered, encodeBuffered } from './output-codec.ts';

type Entry = { seq: number; item: BufferedOutput };

export class OutputBuffer {
  /** In the store: epochs up to the last barrier (or the restored checkpoint). */
  private written: Entry[];
  /** Added since the last barrier. */
  private fresh: Entry[] = [];
  private nextSeq: number;

  /** A buffer holding what the store held (`stored`, in key order). */
  constructor(stored: readonly StoredBufferEntry[]) {
    this.written = stored.map(({ epoch, seq, json }) => {
      const item = decodeBuffered(json);
      if (item.epoch !== epoch) throw new IllegalStateError(`buffered output ${epoch}/${seq} says it is of epoch ${item.epoch}`);
      return { seq, item };
    });
    this.nextSeq = (this.written.at(-1)?.seq ?? 0) + 1;
  }

  /** Entries held, written or not. */
  get size(): number {
    return this.written.length + this.fresh.length;
  }

  /** Adds an output (or dead letter) of the current epoch, after all others. */
  append(item: BufferedOutput): void {
    const last = this.fresh.at(-1) ?? this.written.at(-1);
    if (last !== undefined && item.epoch < last.item.epoch) throw new IllegalStateError(`epoch ${item.epoch} after epoch ${last.item.epoch}`);
    this.fresh.push({ seq: this.nextSeq, item });
    this.nextSeq += 1;
  }

  /** What the next barrier must write. */
  unwritten(): StoredBufferEntry[] {
    return this.fresh.map(({ seq, item }) => ({ epoch: item.epoch, seq, json: encodeBuffered(item) }));
  }

  /** The barrier wrote them. */
  markWritten(): void {
    this.written = this.written.concat(this.fresh);
    this.fresh = [];
  }

  /** The written entries of epochs ≤ `checkpointId`, in order. */
  upTo(checkpointId: number): BufferedOutput[] {
    return this.written.slice(0, this.countUpTo(checkpointId)).map(({ item }) => item);
  }

  /** Drops the entries of epochs ≤ `checkpointId`; returns where they were stored. */
  dropUpTo(checkpointId: number): BufferRef[] {
    const dropped = this.written.splice(0, this.countUpTo(checkpointId));
    return dropped.map(({ seq, item }) => ({ epoch: item.epoch, seq }));
  }

  private countUpTo(checkpointId: number): number {
    const firstFresh = this.fresh[0]; // epochs never go down: the first has the lowest
    if (firstFresh !== undefined && firstFresh.item.epoch <= checkpointId) throw new IllegalStateError(`outputs of epoch ≤ ${checkpointId} were never written by a barrier`);
    const end = this.written.findIndex(({ item }) => item.epoch > checkpointId);
    return end === -1 ? this.written.length : end;
  }
}

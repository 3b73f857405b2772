/**
 * The next offset to read of each source topic of a task: restored from the store, advanced
 * past every record handled (decoded, skipped or dead-lettered alike), written by each flush.
 * Offsets are Kafka's decimal strings, counted with BigInt (they can exceed 2^53).
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { SourceRecord, TaskOffsets } from '../thread-protocol.ts';

export class SourceOffsets {
  private readonly next: TaskOffsets;

  constructor(
    private readonly task: number,
    restored: TaskOffsets,
  ) {
    this.next = { ...restored };
  }

  /**
   * Refuses a record before the next offset of its topic: it was handled already, and handling
   * it again would double its effects (a dispatcher bug).
   */
  check(record: SourceRecord): void {
    const next = this.next[record.topic];
    if (next !== undefined && BigInt(parseOffset(record.offset)) < BigInt(next)) {
      throw new IllegalStateError(`task ${this.task}: ${record.topic}@${record.offset} is before the next offset ${next} (already handled)`);
    }
  }

  /** The record was handled. */
  advance(record: SourceRecord): void {
    this.next[record.topic] = nextOffset(record.offset);
  }

  /** A copy of the next offsets. */
  snapshot(): TaskOffsets {
    return { ...this.next };
  }
}

/** The offset after `offset`, in decimal string arithmetic. */
export function nextOffset(offset: string): string {
  return (BigInt(parseOffset(offset)) + 1n).toString();
}

function parseOffset(offset: string): string {
  if (!/^\d+$/.test(offset)) throw new IllegalStateError(`bad Kafka offset '${offset}'`);
  return offset;
}

/**
 * A task's checkpoint as a chain of snapshot files: one base (the whole store at its
 * checkpoint) and the deltas written after it, each holding only what changed since the link
 * before it. A checkpoint costs what changed since the previous one, not the size of the state
 * (Flink's and RocksDB's incremental checkpoints share immutable files for the same reason).
 *
 * Files are immutable once written and shared by every checkpoint whose chain names them; the
 * manifest lists each task's chain, and the store deletes a file only when no retained
 * manifest names it (checkpoint-store.ts). A restore verifies every link (checksums, and each
 * header against its place in the chain) before it applies anything, then loads the base and
 * applies the deltas in order.
 */
import type { SnapshotHeader, SnapshotKind } from './snapshot-layout.ts';

/** Where a barrier's snapshot goes: the checkpoint store's root and the file's name in it. */
export type SnapshotTarget = { root: string; ref: string };

/** When a new base is written in the background. */
export type CompactionPolicy = {
  /** Deltas in the chain that start a compaction. */
  maxDeltas: number;
  /** Deltas adding up to this many times the base's bytes start a compaction. */
  deltaRatio: number;
};

/** One file of a chain, as acks and manifests carry it. */
export type SnapshotLink = {
  /** The file, relative to the checkpoint store's root. */
  ref: string;
  /** The checkpoint the file's state belongs to (a delta's parent is the link before it). */
  checkpointId: number;
  kind: SnapshotKind;
  bytes: number;
  records: number;
};

/**
 * What each link's header must say, given its place in the chain: the first is a base, every
 * later one a delta on the link before it, in ascending checkpoint order.
 * @throws Error naming the task when the chain itself is malformed
 */
export function expectedHeaders(task: number, chain: readonly SnapshotLink[]): SnapshotHeader[] {
  if (chain.length === 0) throw new Error(`task ${task}: an empty snapshot chain`);
  return chain.map((link, i) => {
    const parent = i === 0 ? 0 : chain[i - 1]!.checkpointId;
    const kind: SnapshotKind = i === 0 ? 'base' : 'delta';
    if (link.kind !== kind || (i > 0 && link.checkpointId <= parent)) {
      throw new Error(`task ${task}: snapshot chain link ${i} (${link.ref}) is a ${link.kind} of checkpoint ${link.checkpointId}; expected a ${kind}${i > 0 ? ` after checkpoint ${parent}` : ''}`);
    }
    return { task, checkpointId: link.checkpointId, kind, parent };
  });
}

/** How big a chain is: what a restore reads, and what compaction weighs. */
export function chainSize(chain: readonly SnapshotLink[]): { baseBytes: number; deltaBytes: number; deltas: number } {
  const [base, ...deltas] = chain;
  return { baseBytes: base?.bytes ?? 0, deltaBytes: deltas.reduce((sum, link) => sum + link.bytes, 0), deltas: deltas.length };
}

/**
 * The chain a manifest entry names: its `chain`, or, in manifests from before incremental
 * checkpoints, its single base snapshot.
 */
export function chainOf(entry: { snapshot: string; bytes: number; records: number; chain?: SnapshotLink[] }, checkpointId: number): SnapshotLink[] {
  return entry.chain ?? [{ ref: entry.snapshot, checkpointId, kind: 'base', bytes: entry.bytes, records: entry.records }];
}

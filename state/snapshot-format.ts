/**
 * Snapshot files: one task's LevelDB at one checkpoint (a base), or what changed in it since
 * the previous one (a delta), as a versioned file of key/value records (raw bytes, in key
 * order) in checksummed blocks. A task's checkpoint is a chain of them: a base and the deltas
 * after it (snapshot-chain.ts). Writing is snapshot-writer.ts; reading verifies a file whole
 * before handing anything out (snapshot-reader.ts). The byte layout is in snapshot-layout.ts.
 * This module is what the rest of Eddy imports.
 */
export { DELTA_DELETE, DELTA_PUT, SNAPSHOT_FORMAT_VERSION, SnapshotCorruptError, type SnapshotHeader, type SnapshotKind } from './snapshot-layout.ts';
export { readSnapshot, readVerifiedSnapshot, verifySnapshot, type SnapshotSummary } from './snapshot-reader.ts';
export { writeSnapshot, type SnapshotWritten } from './snapshot-writer.ts';

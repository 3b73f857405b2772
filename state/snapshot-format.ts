/**
 * Snapshot files: one task's LevelDB at one checkpoint, as a versioned file of its key/value
 * records (raw bytes, in key order) in checksummed blocks. A barrier streams the task's
 * LevelDB into one (snapshot-writer.ts); a restore verifies it whole and bulk-loads it into a
 * fresh LevelDB (snapshot-reader.ts). The byte layout is in snapshot-layout.ts. This module is
 * what the rest of Eddy imports.
 */
export { SNAPSHOT_FORMAT_VERSION, SnapshotCorruptError, type SnapshotHeader } from './snapshot-layout.ts';
export { readSnapshot, verifySnapshot, type SnapshotSummary } from './snapshot-reader.ts';
export { writeSnapshot, type SnapshotWritten } from './snapshot-writer.ts';

/**
 * The byte layout of a snapshot file, shared by its writer and reader, and the error a reader
 * throws for a file that does not follow it. Kept apart so both sides agree on every offset.
 * All integers are big-endian:
 *
 *   header  magic "EDDYSNAP" | u32 format version | u32 task | u64 checkpointId
 *           | u32 kind (0 base, 1 delta) | u64 parent checkpointId (0 for a base)      (36 bytes)
 *   block   u32 payload length | u32 crc32(payload) | payload                          (repeated)
 *           payload = records, each u32 key length | key | u32 value length | value
 *   footer  u32 0xFFFFFFFF | u64 records | u32 blocks | u32 crc32(header ‖ each block's crc
 *           as u32) | magic "EDDYEND\0"                                                (28 bytes)
 *
 * The footer opens with a length no block can have, so a reader walking the blocks knows a
 * footer from a block, and tells a missing footer from a truncated block.
 *
 * A **base** holds the task's whole store at its checkpoint. A **delta** holds what changed
 * since its parent (the previous link of the task's chain, see state/snapshot-chain.ts): each
 * record's value starts with one op byte, {@link DELTA_PUT} followed by the new value or
 * {@link DELTA_DELETE} alone. Format 1 (a 24-byte header without kind and parent) was always a
 * base and is still read.
 */

/** A whole store, or the changes since a parent snapshot. */
export type SnapshotKind = 'base' | 'delta';

/** What a snapshot file says about itself. */
export type SnapshotHeader = {
  task: number;
  /** The checkpoint the snapshot belongs to, ≥ 1. */
  checkpointId: number;
  /** Default 'base'. */
  kind?: SnapshotKind;
  /** A delta's parent: the checkpoint of the link it applies on. 0 (the default) for a base. */
  parent?: number;
};

/** The format version written. */
export const SNAPSHOT_FORMAT_VERSION = 2;

/** The op byte opening a delta record's value. */
export const DELTA_PUT = 1;
export const DELTA_DELETE = 0;

/** A block is closed once the next record would take it past this (a bigger record gets a block of its own). */
export const BLOCK_TARGET_BYTES = 64 * 1024;

/** The marker opening the footer where a block's length would be. Blocks are always shorter. */
export const FOOTER_MARKER = 0xffff_ffff;

export const HEADER_BYTES = 36;
/** Format 1's header: no kind, no parent. */
export const HEADER_BYTES_V1 = 24;
export const BLOCK_FRAME_BYTES = 8;
export const FOOTER_BYTES = 28;

const HEADER_MAGIC = Buffer.from('EDDYSNAP', 'latin1');
const FOOTER_MAGIC = Buffer.from('EDDYEND\0', 'latin1');

/** The footer's content. */
export type SnapshotFooter = { records: number; blocks: number; crc: number };

/**
 * A snapshot that is missing, truncated, damaged or not the one asked for. Nothing of it may be
 * applied; the caller falls back to an older checkpoint.
 */
export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
  constructor(
    /** The snapshot file. */
    readonly path: string,
    /** Index of the bad block, or -1 for the header, the footer or the file as a whole. */
    readonly block: number,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`snapshot ${path} is corrupt at ${block === -1 ? 'header/footer' : `block ${block}`}: ${reason}`, options);
  }
}

export function encodeHeader(header: SnapshotHeader): Buffer {
  const bytes = Buffer.alloc(HEADER_BYTES);
  HEADER_MAGIC.copy(bytes, 0);
  bytes.writeUInt32BE(SNAPSHOT_FORMAT_VERSION, 8);
  bytes.writeUInt32BE(header.task, 12);
  bytes.writeBigUInt64BE(BigInt(header.checkpointId), 16);
  bytes.writeUInt32BE(header.kind === 'delta' ? 1 : 0, 24);
  bytes.writeBigUInt64BE(BigInt(header.parent ?? 0), 28);
  return bytes;
}

/**
 * The header's length, from its first 12 bytes (magic and version).
 * @throws SnapshotCorruptError on a wrong magic or an unknown version
 */
export function headerLength(start: Buffer, path: string): number {
  if (!start.subarray(0, 8).equals(HEADER_MAGIC)) throw new SnapshotCorruptError(path, -1, 'not a snapshot file (bad header magic)');
  const version = start.readUInt32BE(8);
  if (version === 1) return HEADER_BYTES_V1;
  if (version === SNAPSHOT_FORMAT_VERSION) return HEADER_BYTES;
  throw new SnapshotCorruptError(path, -1, `format version ${version}, this reader knows 1 and ${SNAPSHOT_FORMAT_VERSION}`);
}

/** @throws SnapshotCorruptError on a wrong magic, version or kind */
export function decodeHeader(bytes: Buffer, path: string): Required<SnapshotHeader> {
  const length = headerLength(bytes, path);
  const task = bytes.readUInt32BE(12);
  const checkpointId = Number(bytes.readBigUInt64BE(16));
  if (length === HEADER_BYTES_V1) return { task, checkpointId, kind: 'base', parent: 0 };
  const kind = bytes.readUInt32BE(24);
  if (kind > 1) throw new SnapshotCorruptError(path, -1, `unknown snapshot kind ${kind}`);
  return { task, checkpointId, kind: kind === 1 ? 'delta' : 'base', parent: Number(bytes.readBigUInt64BE(28)) };
}

export function encodeBlockFrame(payloadBytes: number, crc: number): Buffer {
  const frame = Buffer.alloc(BLOCK_FRAME_BYTES);
  frame.writeUInt32BE(payloadBytes, 0);
  frame.writeUInt32BE(crc, 4);
  return frame;
}

export function encodeFooter(footer: SnapshotFooter): Buffer {
  const bytes = Buffer.alloc(FOOTER_BYTES);
  bytes.writeUInt32BE(FOOTER_MARKER, 0);
  bytes.writeBigUInt64BE(BigInt(footer.records), 4);
  bytes.writeUInt32BE(footer.blocks, 12);
  bytes.writeUInt32BE(footer.crc, 16);
  FOOTER_MAGIC.copy(bytes, 20);
  return bytes;
}

/** @throws SnapshotCorruptError on a wrong magic */
export function decodeFooter(bytes: Buffer, path: string): SnapshotFooter {
  if (!bytes.subarray(20, 28).equals(FOOTER_MAGIC)) throw new SnapshotCorruptError(path, -1, 'bad footer magic');
  return { records: Number(bytes.readBigUInt64BE(4)), blocks: bytes.readUInt32BE(12), crc: bytes.readUInt32BE(16) };
}

/** A u32, big-endian: a record's lengths, or a block's crc as the footer's crc covers it. */
export function u32Bytes(n: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(n, 0);
  return bytes;
}

/**
 * The records of a block's payload.
 * @throws SnapshotCorruptError when the payload does not split exactly into records
 */
export function decodeRecords(payload: Buffer, path: string, block: number): [Uint8Array, Uint8Array][] {
  const records: [Uint8Array, Uint8Array][] = [];
  let at = 0;
  const take = (): Uint8Array => {
    if (at + 4 > payload.length) throw new SnapshotCorruptError(path, block, `record ${records.length} is cut off`);
    const length = payload.readUInt32BE(at);
    const end = at + 4 + length;
    if (end > payload.length) throw new SnapshotCorruptError(path, block, `record ${records.length} is cut off`);
    const part = payload.subarray(at + 4, end);
    at = end;
    return part;
  };
  while (at < payload.length) records.push([take(), take()]);
  return records;
}

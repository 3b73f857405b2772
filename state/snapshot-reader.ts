/**
 * Reads a snapshot file (layout in snapshot-layout.ts) back, trusting nothing: magic, version,
 * the task and checkpoint it claims, every block's crc, key order, the footer's counts and crc,
 * and the file's exact length. The whole file is verified before the first entry is handed out,
 * so a corrupt snapshot is refused before anything of it is applied.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import {
  BLOCK_FRAME_BYTES,
  FOOTER_BYTES,
  FOOTER_MARKER,
    SnapshotCorruptError,
  decodeFooter,
  decodeHeader,
  decodeRecords,
  headerLength,
  u32Bytes,
  type SnapshotHeader,
} from './snapshot-layout.ts';

type Entry = [Uint8Array, Uint8Array];

/** What a verified snapshot holds. */
export type SnapshotSummary = { records: number; blocks: number; bytes: number };

/**
 * The entries of snapshot `path`, in key order. The first `next()` verifies the whole file;
 * the entries are then read (and checked) again as they are handed out.
 * @throws SnapshotCorruptError when the file is missing, damaged, or not `expect`'s snapshot
 */
export async function* readSnapshot(path: string, expect: SnapshotHeader): AsyncGenerator<Entry, void, undefined> {
  await verifySnapshot(path, expect);
  for await (const records of scan(path, expect)) yield* records;
}

/**
 * The entries of snapshot `path` that {@link verifySnapshot} already passed, in key order,
 * without a second full read first; each block is still checked as it is read, and the footer
 * at the end, so a file changed since throws then (the caller discards what it applied).
 * @throws SnapshotCorruptError when the file is missing, damaged, or not `expect`'s snapshot
 */
export async function* readVerifiedSnapshot(path: string, expect: SnapshotHeader): AsyncGenerator<Entry, void, undefined> {
  for await (const records of scan(path, expect)) yield* records;
}

/**
 * Reads the whole of snapshot `path` and checks it.
 * @throws SnapshotCorruptError when the file is missing, damaged, or not `expect`'s snapshot
 */
export async function verifySnapshot(path: string, expect: SnapshotHeader): Promise<SnapshotSummary> {
  const summary: SnapshotSummary = { records: 0, blocks: 0, bytes: 0 };
  for await (const _records of scan(path, expect, summary)) continue;
  return summary;
}

/** Yields each block's records once its crc and key order are checked; checks the footer at the end. */
async function* scan(path: string, expect: SnapshotHeader, summary?: SnapshotSummary): AsyncGenerator<Entry[], void, undefined> {
  const file = await openSnapshot(path);
  try {
    const reader = new PositionalReader(file, (await file.stat()).size);
    const start = await reader.readAt(0, 12);
    const headerBytes = start === undefined ? undefined : await reader.readAt(0, headerLength(start, path));
    if (headerBytes === undefined) throw new SnapshotCorruptError(path, -1, `truncated: ${reader.size} bytes, not even a header`);
    checkHeader(decodeHeader(headerBytes, path), expect, path);
    const walk = { position: headerBytes.length, blocks: 0, records: 0, crc: crc32(headerBytes), lastKey: undefined as Uint8Array | undefined };
    for (;;) {
      const frame = await readFrame(reader, walk.position, walk.blocks, path);
      const length = frame.readUInt32BE(0);
      if (length === FOOTER_MARKER) break;
      const payload = await reader.readAt(walk.position + BLOCK_FRAME_BYTES, length);
      if (payload === undefined) throw new SnapshotCorruptError(path, walk.blocks, `truncated: its ${length} bytes run past the end of the file`);
      const crc = frame.readUInt32BE(4);
      if (crc32(payload) !== crc) throw new SnapshotCorruptError(path, walk.blocks, 'crc mismatch');
      const records = decodeRecords(payload, path, walk.blocks);
      for (const [key] of records) {
        if (walk.lastKey !== undefined && Buffer.compare(walk.lastKey, key) >= 0) throw new SnapshotCorruptError(path, walk.blocks, 'keys out of order');
        walk.lastKey = key;
      }
      walk.crc = crc32(u32Bytes(crc), walk.crc);
      walk.records += records.length;
      walk.position += BLOCK_FRAME_BYTES + length;
      walk.blocks += 1;
      yield records;
    }
    await checkFooter(reader, walk, path);
    if (summary !== undefined) Object.assign(summary, { records: walk.records, blocks: walk.blocks, bytes: reader.size });
  } finally {
    await file.close();
  }
}

async function openSnapshot(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (thrown) {
    if ((thrown as { code?: unknown }).code === 'ENOENT') throw new SnapshotCorruptError(path, -1, 'missing file', { cause: thrown });
    throw thrown;
  }
}

function checkHeader(header: Required<SnapshotHeader>, expect: SnapshotHeader, path: string): void {
  const wanted: Required<SnapshotHeader> = { kind: 'base', parent: 0, ...expect };
  if (header.task === wanted.task && header.checkpointId === wanted.checkpointId && header.kind === wanted.kind && header.parent === wanted.parent) return;
  const describe = (h: Required<SnapshotHeader>) => `task ${h.task} checkpoint ${h.checkpointId} ${h.kind === 'base' ? 'base' : `delta on ${h.parent}`}`;
  throw new SnapshotCorruptError(path, -1, `header says ${describe(header)}, expected ${describe(wanted)}`);
}

/** The 8 bytes at `position`: a block's frame, or the start of the footer. */
async function readFrame(reader: PositionalReader, position: number, block: number, path: string): Promise<Buffer> {
  const frame = await reader.readAt(position, BLOCK_FRAME_BYTES);
  if (frame !== undefined) return frame;
  const rest = (await reader.readAt(position, reader.size - position)) ?? Buffer.alloc(0);
  if (rest.length === 0) throw new SnapshotCorruptError(path, -1, `truncated: footer missing (the file ends after block ${block - 1})`);
  if (rest.subarray(0, 4).every((byte) => byte === 0xff)) throw new SnapshotCorruptError(path, -1, 'truncated: footer cut off');
  throw new SnapshotCorruptError(path, block, 'truncated: the file ends inside its frame');
}

type Walk = { position: number; blocks: number; records: number; crc: number };

async function checkFooter(reader: PositionalReader, walk: Walk, path: string): Promise<void> {
  const bytes = await reader.readAt(walk.position, FOOTER_BYTES);
  if (bytes === undefined) throw new SnapshotCorruptError(path, -1, 'truncated: footer cut off');
  const footer = decodeFooter(bytes, path);
  const trailing = reader.size - walk.position - FOOTER_BYTES;
  if (trailing !== 0) throw new SnapshotCorruptError(path, -1, `${trailing} bytes after the footer`);
  if (footer.blocks !== walk.blocks) throw new SnapshotCorruptError(path, -1, `footer counts ${footer.blocks} blocks, the file has ${walk.blocks}`);
  if (footer.records !== walk.records) throw new SnapshotCorruptError(path, -1, `footer counts ${footer.records} records, the blocks hold ${walk.records}`);
  if (footer.crc !== walk.crc) throw new SnapshotCorruptError(path, -1, 'footer crc mismatch (header or block crcs changed)');
}

/** Reads exact byte ranges of a file of known size. */
class PositionalReader {
  constructor(
    private readonly file: FileHandle,
    readonly size: number,
  ) {}

  /** The `length` bytes at `position`, or undefined when the file ends before them. */
  async readAt(position: number, length: number): Promise<Buffer | undefined> {
    if (position + length > this.size) return undefined;
    const bytes = Buffer.alloc(length);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await this.file.read(bytes, done, length - done, position + done);
      if (bytesRead === 0) return undefined;
      done += bytesRead;
    }
    return bytes;
  }
}

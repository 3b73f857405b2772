/**
 * Writes a task's snapshot file (layout in snapshot-layout.ts) from its LevelDB entries. The
 * file appears under its final name only when complete and on disk: it is written to a
 * temporary name, fsynced, renamed, and the directory fsynced, so a crash leaves either the
 * whole snapshot or none (a stray temporary file at worst).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { IllegalStateError } from '../common/errors.ts';
import { BLOCK_TARGET_BYTES, encodeBlockFrame, encodeFooter, encodeHeader, u32Bytes, type SnapshotHeader } from './snapshot-layout.ts';

/** What a written snapshot holds. */
export type SnapshotWritten = {
  /** Size of the file. */
  bytes: number;
  records: number;
};

/**
 * Writes `entries` (strictly ascending by key, bytewise, as a LevelDB iterator yields them) to
 * the snapshot file `path`, replacing any file there. A failure (including one thrown by the
 * `entries` iterator, e.g. to abort) removes the temporary file and rethrows.
 */
export async function writeSnapshot(path: string, header: SnapshotHeader, entries: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<SnapshotWritten> {
  assertHeader(header);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let written: SnapshotWritten;
  try {
    const file = await open(tmp, 'wx');
    try {
      written = await writeBody(new BlockWriter(file), header, entries);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (thrown) {
    await rm(tmp, { force: true });
    throw thrown;
  }
  await syncDir(dir);
  return written;
}

async function writeBody(writer: BlockWriter, header: SnapshotHeader, entries: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<SnapshotWritten> {
  await writer.writeHeader(encodeHeader(header));
  let lastKey: Uint8Array | undefined;
  for await (const [key, value] of entries) {
    if (lastKey !== undefined && Buffer.compare(lastKey, key) >= 0) throw new IllegalStateError('snapshot entries must come in strictly ascending key order');
    lastKey = key;
    await writer.add(key, value);
  }
  return writer.finish();
}

/** Packs records into blocks and appends them, keeping what the footer needs. */
class BlockWriter {
  private chunks: Uint8Array[] = [];
  private blockBytes = 0;
  private blocks = 0;
  private records = 0;
  private bytes = 0;
  private footerCrc = 0;

  constructor(private readonly file: FileHandle) {}

  async writeHeader(header: Buffer): Promise<void> {
    this.footerCrc = crc32(header);
    await this.append(header);
  }

  async add(key: Uint8Array, value: Uint8Array): Promise<void> {
    const recordBytes = 8 + key.length + value.length;
    if (this.blockBytes > 0 && this.blockBytes + recordBytes > BLOCK_TARGET_BYTES) await this.closeBlock();
    this.chunks.push(u32Bytes(key.length), key, u32Bytes(value.length), value);
    this.blockBytes += recordBytes;
    this.records += 1;
  }

  async finish(): Promise<SnapshotWritten> {
    if (this.blockBytes > 0) await this.closeBlock();
    await this.append(encodeFooter({ records: this.records, blocks: this.blocks, crc: this.footerCrc }));
    return { bytes: this.bytes, records: this.records };
  }

  private async closeBlock(): Promise<void> {
    const payload = Buffer.concat(this.chunks, this.blockBytes);
    const crc = crc32(payload);
    this.footerCrc = crc32(u32Bytes(crc), this.footerCrc);
    await this.append(Buffer.concat([encodeBlockFrame(payload.length, crc), payload]));
    this.blocks += 1;
    this.chunks = [];
    this.blockBytes = 0;
  }

  private async append(bytes: Buffer): Promise<void> {
    let done = 0;
    while (done < bytes.length) done += (await this.file.write(bytes, done, bytes.length - done)).bytesWritten;
    this.bytes += bytes.length;
  }
}

function assertHeader({ task, checkpointId }: SnapshotHeader): void {
  if (!Number.isInteger(task) || task < 0 || task > 0xffff_ffff) throw new RangeError(`snapshot task must be a u32, got ${task}`);
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) throw new RangeError(`snapshot checkpointId must be a safe integer ≥ 1, got ${checkpointId}`);
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

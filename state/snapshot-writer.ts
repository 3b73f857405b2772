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
import { BLOCK_FRAME_BYTES, BLOCK_TARGET_BYTES, encodeBlockFrame, encodeFooter, encodeHeader, u32Bytes, type SnapshotHeader } from './snapshot-layout.ts';

/** What a written snapshot holds. */
export type SnapshotWritten = {
  /** Size of the file. */
  bytes: number;
  records: number;
};

/** One entry, key and value as raw bytes. */
type Entry = readonly [Uint8Array, Uint8Array];

/**
 * Writes `batches` of entries (strictly ascending by key, bytewise, across batches, as a
 * LevelDB iterator yields them) to the snapshot file `path`, replacing any file there. Each
 * batch is encoded synchronously and its full blocks written before the next batch is asked
 * for: per-entry awaits cost more than the encoding itself. A failure (including one thrown by
 * the `batches` iterator, e.g. to abort) removes the temporary file and rethrows.
 */
export async function writeSnapshot(path: string, header: SnapshotHeader, batches: AsyncIterable<readonly Entry[]> | Iterable<readonly Entry[]>): Promise<SnapshotWritten> {
  assertHeader(header);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let written: SnapshotWritten;
  try {
    const file = await open(tmp, 'wx');
    try {
      written = await writeBody(new BlockWriter(file), header, batches);
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

async function writeBody(writer: BlockWriter, header: SnapshotHeader, batches: AsyncIterable<readonly Entry[]> | Iterable<readonly Entry[]>): Promise<SnapshotWritten> {
  writer.writeHeader(encodeHeader(header));
  let lastKey: Uint8Array | undefined;
  for await (const batch of batches) {
    for (const [key, value] of batch) {
      if (lastKey !== undefined && Buffer.compare(lastKey, key) >= 0) throw new IllegalStateError('snapshot entries must come in strictly ascending key order');
      lastKey = key;
      writer.add(key, value);
    }
    await writer.drain();
  }
  return writer.finish();
}

/** Packs records into blocks, keeping what the footer needs; `drain` appends the finished ones. */
class BlockWriter {
  private block: Entry[] = [];
  private blockBytes = 0;
  private blocks = 0;
  private records = 0;
  private bytes = 0;
  private footerCrc = 0;
  /** Encoded, not yet written. */
  private ready: Buffer[] = [];

  constructor(private readonly file: FileHandle) {}

  writeHeader(header: Buffer): void {
    this.footerCrc = crc32(header);
    this.ready.push(header);
  }

  add(key: Uint8Array, value: Uint8Array): void {
    const recordBytes = 8 + key.length + value.length;
    if (this.blockBytes > 0 && this.blockBytes + recordBytes > BLOCK_TARGET_BYTES) this.closeBlock();
    this.block.push([key, value]);
    this.blockBytes += recordBytes;
    this.records += 1;
  }

  async finish(): Promise<SnapshotWritten> {
    if (this.blockBytes > 0) this.closeBlock();
    this.ready.push(encodeFooter({ records: this.records, blocks: this.blocks, crc: this.footerCrc }));
    await this.drain();
    return { bytes: this.bytes, records: this.records };
  }

  /** Writes the encoded blocks. */
  async drain(): Promise<void> {
    const buffers = this.ready;
    this.ready = [];
    for (const bytes of buffers) {
      let done = 0;
      while (done < bytes.length) done += (await this.file.write(bytes, done, bytes.length - done)).bytesWritten;
      this.bytes += bytes.length;
    }
  }

  private closeBlock(): void {
    const framed = Buffer.allocUnsafe(BLOCK_FRAME_BYTES + this.blockBytes);
    let at = BLOCK_FRAME_BYTES;
    for (const [key, value] of this.block) {
      at = framed.writeUInt32BE(key.length, at);
      framed.set(key, at);
      at = framed.writeUInt32BE(value.length, at + key.length);
      framed.set(value, at);
      at += value.length;
    }
    const payload = framed.subarray(BLOCK_FRAME_BYTES);
    const crc = crc32(payload);
    encodeBlockFrame(payload.length, crc).copy(framed, 0);
    this.footerCrc = crc32(u32Bytes(crc), this.footerCrc);
    this.ready.push(framed);
    this.blocks += 1;
    this.block = [];
    this.blockBytes = 0;
  }
}

function assertHeader({ task, checkpointId, kind = 'base', parent = 0 }: SnapshotHeader): void {
  if (!Number.isInteger(task) || task < 0 || task > 0xffff_ffff) throw new RangeError(`snapshot task must be a u32, got ${task}`);
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) throw new RangeError(`snapshot checkpointId must be a safe integer ≥ 1, got ${checkpointId}`);
  const parentOk = kind === 'base' ? parent === 0 : Number.isSafeInteger(parent) && parent >= 1 && parent < checkpointId;
  if (!parentOk) throw new RangeError(`snapshot ${kind} of checkpoint ${checkpointId} cannot have parent ${parent}`);
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

import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK_FRAME_BYTES, FOOTER_BYTES, HEADER_BYTES } from '../../state/snapshot-layout.ts';
import { SnapshotCorruptError, readSnapshot, verifySnapshot, writeSnapshot } from '../../state/snapshot-format.ts';
import { batchesOf, tempDir } from './task-harness.ts';

type Entry = [Uint8Array, Uint8Array];
const header = { task: 3, checkpointId: 7 };
const bytes = (text: string) => new TextEncoder().encode(text);

/** `n` entries with keys in order and values of `valueBytes` bytes. */
function entries(n: number, valueBytes = 100): Entry[] {
  return Array.from({ length: n }, (_, i) => [bytes(`k${String(i).padStart(6, '0')}`), new Uint8Array(valueBytes).fill(i % 251)]);
}

/** Entries as hex strings: quick to compare. */
const hex = (list: readonly Entry[]) => list.map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);

async function readAll(path: string, expected = header): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const entry of readSnapshot(path, expected)) out.push(entry);
  return out;
}

async function corruptError(path: string, expected = header): Promise<SnapshotCorruptError> {
  const error = await readAll(path, expected).catch((thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(SnapshotCorruptError);
  const corrupt = error as SnapshotCorruptError;
  expect(corrupt.path).toBe(path);
  expect(corrupt.message).toContain(path);
  return corrupt;
}

/** A copy of `file` with one bit of byte `at` flipped. */
function flipped(file: Buffer, at: number): Buffer {
  const copy = Buffer.from(file);
  copy.writeUInt8(copy.readUInt8(at) ^ 0x40, at);
  return copy;
}

/** A snapshot of 2,000 entries of 100 bytes: four blocks of ~64 KiB. */
async function written(): Promise<{ path: string; list: Entry[]; size: number }> {
  const path = join(await tempDir(), 'cp', 'task-3.snap');
  const list = entries(2_000);
  const result = await writeSnapshot(path, header, batchesOf(list));
  return { path, list, size: result.bytes };
}

describe('snapshot format', () => {
  it('round-trips raw keys and values in blocks of at most ~64 KiB', async () => {
    const { path, list, size } = await written();
    expect((await stat(path)).size).toBe(size);
    expect(hex(await readAll(path))).toEqual(hex(list));
    expect(await verifySnapshot(path, header)).toEqual({ records: 2_000, blocks: 4, bytes: size });
    expect(await readdir(join(path, '..'))).toEqual(['task-3.snap']); // no temporary file left
  });

  it('round-trips an empty snapshot, binary keys and a record bigger than a block', async () => {
    const dir = await tempDir();
    await writeSnapshot(join(dir, 'empty'), header, batchesOf([]));
    expect(await readAll(join(dir, 'empty'))).toEqual([]);
    const odd: Entry[] = [
      [new Uint8Array([0]), new Uint8Array()],
      [new Uint8Array([0, 0xff]), new Uint8Array(200_000).fill(9)],
      [new Uint8Array([1]), bytes('x')],
    ];
    expect(await writeSnapshot(join(dir, 'odd'), header, batchesOf(odd))).toMatchObject({ records: 3 });
    expect(hex(await readAll(join(dir, 'odd')))).toEqual(hex(odd));
  });

  it('refuses entries out of key order and leaves no file behind', async () => {
    const dir = await tempDir();
    const unordered: Entry[] = [[bytes('b'), bytes('')], [bytes('a'), bytes('')]];
    await expect(writeSnapshot(join(dir, 's'), header, batchesOf(unordered))).rejects.toThrow(/ascending key order/);
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    ['inside the header', 10, -1],
    ['inside the first block frame', HEADER_BYTES + 3, 0],
    ['inside the first block', HEADER_BYTES + BLOCK_FRAME_BYTES + 1_000, 0],
    ['inside the third block', 150_000, 2],
  ])('names the block when the file is truncated %s', async (_where, length, block) => {
    const { path } = await written();
    await truncate(path, length);
    expect((await corruptError(path)).block).toBe(block);
  });

  it('reports a missing or cut-off footer', async () => {
    const { path, size } = await written();
    await truncate(path, size - 5);
    expect(await corruptError(path)).toMatchObject({ block: -1, reason: 'truncated: footer cut off' });
    await truncate(path, size - FOOTER_BYTES);
    expect((await corruptError(path)).reason).toMatch(/footer missing/);
  });

  it('names the block whose bytes changed', async () => {
    const { path } = await written();
    const file = await readFile(path);
    const firstBlockBytes = BLOCK_FRAME_BYTES + file.readUInt32BE(HEADER_BYTES);
    await writeFile(path, flipped(file, HEADER_BYTES + firstBlockBytes + 500)); // inside block 1's payload
    expect(await corruptError(path)).toMatchObject({ block: 1, reason: 'crc mismatch' });
  });

  it('refuses a wrong magic, version, task or checkpoint, and a damaged footer', async () => {
    const { path, size } = await written();
    const good = await readFile(path);
    await expect(corruptError(path, { task: 3, checkpointId: 8 })).resolves.toMatchObject({ block: -1, reason: 'header says task 3 checkpoint 7 base, expected task 3 checkpoint 8 base' });
    await expect(corruptError(path, { task: 4, checkpointId: 7 })).resolves.toMatchObject({ block: -1 });
    const damaged = async (at: number, reason: RegExp) => {
      await writeFile(path, flipped(good, at));
      const error = await corruptError(path);
      expect(error.block).toBe(-1);
      expect(error.reason).toMatch(reason);
    };
    await damaged(0, /bad header magic/);
    await damaged(11, /format version/);
    await damaged(size - FOOTER_BYTES + 11, /footer counts \d+ records/);
    await damaged(size - FOOTER_BYTES + 17, /footer crc mismatch/);
    await damaged(size - 1, /bad footer magic/);
    await writeFile(path, Buffer.concat([good, Buffer.from([0])]));
    expect((await corruptError(path)).reason).toBe('1 bytes after the footer');
  });

  it('reports a missing file', async () => {
    const path = join(await tempDir(), 'nope.snap');
    expect(await corruptError(path)).toMatchObject({ block: -1, reason: 'missing file' });
  });

  it('verifies the whole file before handing out the first entry', async () => {
    const { path, size } = await written();
    await truncate(path, size - 1);
    const reader = readSnapshot(path, header);
    await expect(reader.next()).rejects.toBeInstanceOf(SnapshotCorruptError);
  });
});

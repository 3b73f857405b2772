import { describe, expect, it } from 'vitest';
import type { RawEntry } from '../../state/task-store.ts';
import { mergeSorted } from '../../worker/runtime/snapshot-jobs.ts';
import { batchesOf } from './task-harness.ts';

const entry = (key: string): RawEntry => [Buffer.from(key, 'latin1'), Buffer.from(key.toUpperCase())];
const keysOf = async (batches: AsyncIterable<RawEntry[]>) => {
  const keys: string[] = [];
  for await (const batch of batches) for (const [key] of batch) keys.push(Buffer.from(key).toString('latin1'));
  return keys;
};

describe('mergeSorted', () => {
  it('merges the buffer entries into the view entries in key order, wherever they fall', async () => {
    const view = ['a\x00x', 'a\x00y', 'o\x00t', 't\x00e', 'w'].map(entry);
    const buffer = ['b\x000001\x000001', 'b\x000001\x000002', 'b\x000002\x000003'].map(entry);
    for (const size of [1, 2, 5]) {
      expect(await keysOf(mergeSorted(batchesOf(view, size), buffer))).toEqual(['a\x00x', 'a\x00y', 'b\x000001\x000001', 'b\x000001\x000002', 'b\x000002\x000003', 'o\x00t', 't\x00e', 'w']);
    }
  });

  it('keeps either side when the other is empty, and buffer keys after every view key', async () => {
    expect(await keysOf(mergeSorted(batchesOf([]), [entry('b1'), entry('b2')]))).toEqual(['b1', 'b2']);
    expect(await keysOf(mergeSorted(batchesOf([entry('a'), entry('w')]), []))).toEqual(['a', 'w']);
    expect(await keysOf(mergeSorted(batchesOf([entry('a')]), [entry('b')]))).toEqual(['a', 'b']);
  });
});

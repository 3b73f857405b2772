// Retention with incremental checkpoints (real files): a file goes only when no retained manifest
// names it, and only from checkpoints older than the oldest retained one.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStore, manifestFormat } from '../../state/checkpoint-store.ts';
import type { SnapshotLink } from '../../state/snapshot-chain.ts';
import { tempDir } from './task-harness.ts';

const link = (checkpointId: number, kind: 'base' | 'delta', ref = join(`chk-${checkpointId}`, `task-0.w.g1.${kind === 'base' ? 'base' : 'd'}.snap`)): SnapshotLink => ({
  ref, checkpointId, kind, bytes: 10, records: 1,
});

async function files(store: CheckpointStore): Promise<string[]> {
  const out: string[] = [];
  for (const dir of (await readdir(store.root)).filter((name) => name.startsWith('chk-')).sort()) {
    for (const name of (await readdir(join(store.root, dir))).sort()) out.push(join(dir, name));
  }
  return out;
}

describe('checkpoint store retention with snapshot chains', () => {
  it('keeps old links the retained chains share, and deletes the rest below the oldest retained checkpoint', async () => {
    const store = new CheckpointStore(await tempDir());
    const write = async (id: number, chain: SnapshotLink[]) => {
      for (const l of chain) {
        await mkdir(join(store.root, l.ref, '..'), { recursive: true });
        await writeFile(join(store.root, l.ref), 'x', { flag: 'a' });
      }
      await store.writeManifest({
        format: manifestFormat, job: 'j', checkpointId: id, triggeredAtMs: 0, completedAtMs: 0,
        tasks: [{ task: 0, owner: 'w', generation: 1, snapshot: chain.at(-1)!.ref, bytes: 10, records: 1, offsets: {}, chain }],
      });
    };
    const base1 = link(1, 'base');
    await write(1, [base1]);
    await write(2, [base1, link(2, 'delta')]);
    // Checkpoint 3 was abandoned: its delta is on disk and checkpoint 4's chain builds on it.
    await mkdir(join(store.root, 'chk-3'), { recursive: true });
    await writeFile(join(store.root, link(3, 'delta').ref), 'x');
    await writeFile(join(store.root, 'chk-3', 'task-1.other.g1.snap'), 'abandoned, named by nothing');
    await write(4, [base1, link(2, 'delta'), link(3, 'delta'), link(4, 'delta')]);
    await write(5, [base1, link(2, 'delta'), link(3, 'delta'), link(4, 'delta')]); // nothing changed: same chain
    await write(6, [link(6, 'base')]);

    expect(await store.retain(3)).toEqual([2, 1]); // their manifests; 3 never had one
    expect(await store.completed()).toEqual([6, 5, 4]);
    expect(await files(store)).toEqual([
      base1.ref, link(2, 'delta').ref, link(3, 'delta').ref, link(4, 'delta').ref, link(6, 'base').ref,
    ]);
    expect(await store.chainOf(5, 0)).toHaveLength(4);

    await write(7, [link(6, 'base'), link(7, 'delta')]);
    await write(8, [link(6, 'base'), link(7, 'delta'), link(8, 'delta')]);
    await store.retain(3); // keeps 8, 7, 6: nothing names chk-1 .. chk-4 any more
    expect(await files(store)).toEqual([link(6, 'base').ref, link(7, 'delta').ref, link(8, 'delta').ref]);
    await expect(store.chainOf(8, 1)).rejects.toThrow(/checkpoint 8 has no snapshot of task 1/);
  });

  it('reads a manifest entry without a chain (format 2) as a single base', async () => {
    const store = new CheckpointStore(await tempDir());
    await store.writeManifest({
      format: 2, job: 'j', checkpointId: 9, triggeredAtMs: 0, completedAtMs: 0,
      tasks: [{ task: 0, owner: 'w', generation: 1, snapshot: 'chk-9/task-0.snap', bytes: 5, records: 2, offsets: {} }],
    });
    expect(await store.chainOf(9, 0)).toEqual([{ ref: 'chk-9/task-0.snap', checkpointId: 9, kind: 'base', bytes: 5, records: 2 }]);
  });
});

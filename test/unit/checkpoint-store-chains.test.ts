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

/** Writes checkpoint `id` of `tasks` tasks, each with `chain` (its files too) and offsets `{ t: id }`. */
function writer(store: CheckpointStore) {
  return async (id: number, chain: SnapshotLink[], tasks = 1) => {
    for (const l of chain) {
      await mkdir(join(store.root, l.ref, '..'), { recursive: true });
      await writeFile(join(store.root, l.ref), 'x', { flag: 'a' });
    }
    await store.writeManifest({
      format: manifestFormat, job: 'j', checkpointId: id, triggeredAtMs: 0, completedAtMs: 0,
      tasks: Array.from({ length: tasks }, (_, task) => ({ task, owner: 'w', generation: 1, snapshot: chain.at(-1)!.ref, bytes: 10, records: 1, offsets: { t: String(id) }, chain })),
    });
  };
}

describe('checkpoint store retention with snapshot chains', () => {
  it('keeps old links the retained chains share, and deletes the rest below the oldest retained checkpoint', async () => {
    const store = new CheckpointStore(await tempDir());
    const write = writer(store);
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
    await store.retain(3); // keeps 8, 7, 6, and checkpoint 5's chain as the fallback (the newest dropped, and no file of it is base 6)
    expect((await store.fallbacks(0)).map((f) => f.checkpointId)).toEqual([5]);
    expect(await files(store)).toEqual([
      base1.ref, link(2, 'delta').ref, link(3, 'delta').ref, link(4, 'delta').ref, link(6, 'base').ref, link(7, 'delta').ref, link(8, 'delta').ref,
    ]);
    await write(9, [link(9, 'base')]);
    await store.retain(3); // checkpoint 6, the newest dropped and without base 9, replaces 5: nothing names chk-1 .. chk-4 any more
    expect((await store.fallbacks(0)).map((f) => f.checkpointId)).toEqual([6]);
    expect(await files(store)).toEqual([link(6, 'base').ref, link(7, 'delta').ref, link(8, 'delta').ref, link(9, 'base').ref]);
    await expect(store.chainOf(8, 1)).rejects.toThrow(/checkpoint 8 has no snapshot of task 1/);
  });

  it('keeps, per task, the newest older chain that shares no file with the newest base, as the task\'s fallback', async () => {
    const store = new CheckpointStore(await tempDir());
    const write = writer(store);
    const era1 = [link(1, 'base'), link(2, 'delta'), link(3, 'delta')];
    for (let i = 1; i <= 3; i++) await write(i, era1.slice(0, i));
    await store.retain(3);
    expect(await store.fallbacks(0)).toEqual([]); // nothing dropped yet

    // Compaction: checkpoint 4 starts a new base. While a retained chain still has the old base, no single file is in all of them.
    const era2 = [link(4, 'base'), link(5, 'delta'), link(6, 'delta'), link(7, 'delta')];
    for (let i = 4; i <= 7; i++) await write(i, era2.slice(0, i - 3));
    expect(await store.retain(3)).toEqual([4, 3, 2, 1]);
    // Kept 7, 6, 5 all stand on base 4: checkpoint 4 (the newest dropped) and 3 (the newest without base 4) stay as task 0's fallbacks, with their files.
    expect((await store.fallbacks(0)).map((f) => f.checkpointId)).toEqual([4, 3]);
    expect((await store.fallbacks(0))[1]?.entry.chain).toEqual(era1);
    expect(await files(store)).toEqual([...era1, ...era2].map((l) => l.ref).sort());
    expect(await store.completed()).toEqual([7, 6, 5]); // its manifest went
    // The offsets of the dropped checkpoints down to the oldest fallback stay known: a replay from checkpoint 3 may end at any of them.
    expect(await store.offsetsOf(4, 0)).toEqual({ t: '4' });
    expect(await store.offsetsOf(3, 0)).toEqual({ t: '3' });
    expect(await store.offsetsOf(2, 0)).toBeUndefined();

    const era3 = [link(8, 'base'), link(9, 'delta'), link(10, 'delta')];
    for (let i = 8; i <= 10; i++) await write(i, era3.slice(0, i - 7));
    await store.retain(3);
    // Now checkpoint 7 (base 4) is the newest dropped, and the newest without base 8; era 1's files are needed by nothing.
    expect((await store.fallbacks(0)).map((f) => f.checkpointId)).toEqual([7]);
    expect(await files(store)).toEqual([...era2, ...era3].map((l) => l.ref).sort());

    // A rescale: the checkpoint of 2 tasks names its own bases, and a fallback of 1 task is no way back for it.
    await write(11, [link(11, 'base')], 2);
    await write(12, [link(11, 'base'), link(12, 'delta')], 2);
    await write(13, [link(11, 'base'), link(12, 'delta'), link(13, 'delta')], 2);
    await store.retain(3);
    expect(await store.fallbacks(0)).toEqual([]);
    expect(await store.fallbacks(1)).toEqual([]);
    expect(await files(store)).toEqual([link(11, "base"), link(12, "delta"), link(13, "delta")].map((l) => l.ref).sort());
  });

  it('takes as the independent fallback a chain sharing no file with the newest, not only one on another base', async () => {
    const store = new CheckpointStore(await tempDir());
    const write = writer(store);
    // A compaction started at checkpoint 3 and adopted at 5: the new chain keeps deltas 4 and 5, written while the base was made.
    const old = [link(1, 'base'), link(2, 'delta'), link(3, 'delta'), link(4, 'delta'), link(5, 'delta')];
    for (let i = 1; i <= 5; i++) await write(i, old.slice(0, i));
    const adopted = [link(3, 'base', join('chk-5', 'task-0.w.g1.compacted.snap')), link(4, 'delta'), link(5, 'delta')];
    await write(6, [...adopted, link(6, 'delta')]);
    await write(7, [...adopted, link(6, 'delta'), link(7, 'delta')]);
    await write(8, [...adopted, link(6, 'delta'), link(7, 'delta'), link(8, 'delta')]);
    await store.retain(3);
    // Checkpoints 4 and 5 are on the old base but share deltas 4 and 5 with the new chains: 3 is the newest independent one.
    expect((await store.fallbacks(0)).map((f) => f.checkpointId)).toEqual([5, 3]);
    expect(await store.offsetsOf(4, 0)).toEqual({ t: '4' });
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

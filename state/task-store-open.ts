/**
 * How a task's store comes to be under exactly-once: never from whatever a previous owner left
 * in the directory (it may hold changes of an epoch that never completed), but wiped and then
 * started empty, or rebuilt from a checkpoint's snapshot chain. Every link of the chain is
 * verified whole before any of it is loaded; when one is bad, the directory is left wiped and
 * nothing is opened.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { wipeDir } from './level-bulk.ts';
import { expectedHeaders, type SnapshotLink } from './snapshot-chain.ts';
import { readVerifiedSnapshot, verifySnapshot } from './snapshot-format.ts';
import { TaskStore, type TaskStoreOptions } from './task-store.ts';

export type { SnapshotLink } from './snapshot-chain.ts';

/** The snapshot chain to rebuild a task's store from: a base, then deltas, relative to `root`. */
export type ChainSource = { task: number; root: string; chain: readonly SnapshotLink[] };

/**
 * Wipes `dir` and opens an empty store there.
 * @throws TaskStoreLockedError when `dir` stays locked by a previous owner
 */
export async function createTaskStore(dir: string, options: TaskStoreOptions = {}): Promise<TaskStore> {
  await wipeDir(dir, options.lockWaitMs ?? 10_000);
  return TaskStore.open(dir, options);
}

/**
 * Wipes `dir` and rebuilds the store there from `source`'s chain: every link verified first,
 * then the base loaded and the deltas applied in order.
 * @throws SnapshotCorruptError when a link is missing, damaged or not the one its place names (`dir` is left wiped)
 * @throws TaskStoreLockedError when `dir` stays locked by a previous owner
 */
export async function restoreTaskStore(dir: string, source: ChainSource, options: TaskStoreOptions = {}): Promise<TaskStore> {
  const headers = expectedHeaders(source.task, source.chain);
  const paths = source.chain.map((link) => join(source.root, link.ref));
  const store = await createTaskStore(dir, options);
  try {
    for (const [i, path] of paths.entries()) await verifySnapshot(path, headers[i]!);
    for (const [i, path] of paths.entries()) {
      const entries = readVerifiedSnapshot(path, headers[i]!);
      await (i === 0 ? store.load(entries) : store.applyDelta(entries, path));
    }
    return store;
  } catch (thrown) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw thrown;
  }
}

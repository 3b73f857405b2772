/**
 * How a task's store comes to be under exactly-once: never from whatever a previous owner left
 * in the directory (it may hold changes of an epoch that never completed), but wiped and then
 * started empty, or rebuilt from a checkpoint's snapshot. A snapshot is verified whole before
 * any of it is loaded; when it is bad, the directory is left wiped and nothing is opened.
 */
import { rm } from 'node:fs/promises';
import { wipeDir } from './level-bulk.ts';
import { readSnapshot } from './snapshot-format.ts';
import { TaskStore, type TaskStoreOptions } from './task-store.ts';

/** The snapshot to rebuild a task's store from. */
export type SnapshotSource = { task: number; checkpointId: number; snapshotPath: string };

/**
 * Wipes `dir` and opens an empty store there.
 * @throws TaskStoreLockedError when `dir` stays locked by a previous owner
 */
export async function createTaskStore(dir: string, options: TaskStoreOptions = {}): Promise<TaskStore> {
  await wipeDir(dir, options.lockWaitMs ?? 10_000);
  return TaskStore.open(dir, options);
}

/**
 * Wipes `dir` and rebuilds the store there from `source`'s snapshot.
 * @throws SnapshotCorruptError when the snapshot is missing, damaged or another one (`dir` is left wiped)
 * @throws TaskStoreLockedError when `dir` stays locked by a previous owner
 */
export async function restoreTaskStore(dir: string, source: SnapshotSource, options: TaskStoreOptions = {}): Promise<TaskStore> {
  const store = await createTaskStore(dir, options);
  try {
    await store.load(readSnapshot(source.snapshotPath, { task: source.task, checkpointId: source.checkpointId }));
    return store;
  } catch (thrown) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    throw thrown;
  }
}

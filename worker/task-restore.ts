/**
 * Bringing a task back on a new owner, in the order that keeps exactly-once:
 *
 * 1. fence: initialise the task's transactional id, which aborts a dead owner's open
 *    transaction (or waits for one already committing) and fences every earlier owner;
 * 2. restore state from checkpoint `restoreFrom`, or the next older complete one if a snapshot
 *    fails verification (the error names the file);
 * 3. only now read the marker m: the last checkpoint whose outputs this task published;
 * 4. publish the restored buffer's outputs of epochs in (m, restoredFrom], with marker
 *    restoredFrom, in one transaction, and drop the rest of the buffer (already published).
 *
 * Fencing before reading the marker closes the race with a zombie committing at that moment.
 */
import { ensureError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { CheckpointStore } from '../state/checkpoint-store.ts';
import type { TaskTransactions } from './task-transactions.ts';
import type { TaskOffsets, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

/** Complete checkpoints tried, newest first, before giving up. */
const fallbackDepth = 3;

export interface RestoreDeps {
  task: number;
  /** Checkpoint named by the coordinator; 0 = fresh state. */
  restoreFrom: number;
  dataDir: string;
  checkpoints: CheckpointStore;
  transactions: TaskTransactions;
  logger: Logger;
  call<T extends ThreadResponse['type']>(request: ThreadRequest, expect: T): Promise<Extract<ThreadResponse, { type: T }>>;
}

export interface Restored {
  restoredFrom: number;
  offsets: TaskOffsets;
  /** Outputs of epochs up to here are published (or were, by an earlier owner). */
  publishedThrough: number;
}

export async function restoreTask(deps: RestoreDeps): Promise<Restored> {
  await deps.transactions.fence();
  const opened = await openFromCheckpoint(deps);
  const marker = await deps.transactions.lastPublished();
  const restoredFrom = opened.restoredFrom;
  if (restoredFrom === 0) return { restoredFrom, offsets: opened.offsets, publishedThrough: 0 };
  const buffered = await deps.call({ type: 'committed-outputs', task: deps.task, checkpointId: restoredFrom }, 'committed-outputs');
  if (marker < restoredFrom) {
    const unpublished = buffered.outputs.filter((o) => o.epoch > marker);
    await deps.transactions.publish(restoredFrom, unpublished);
    deps.logger.info({ task: deps.task, checkpoint: restoredFrom, marker, published: unpublished.length }, 'published the restored checkpoint\'s pending outputs');
  } else if (marker > restoredFrom) {
    deps.logger.error(
      { task: deps.task, restoredFrom, marker },
      'restored from a checkpoint older than the last published one (a newer snapshot was unusable): outputs of the epochs in between will be published again',
    );
  }
  await deps.call({ type: 'outputs-published', task: deps.task, checkpointId: restoredFrom }, 'outputs-published');
  return { restoredFrom, offsets: opened.offsets, publishedThrough: restoredFrom };
}

async function openFromCheckpoint(deps: RestoreDeps): Promise<Extract<ThreadResponse, { type: 'opened' }>> {
  const open = (restore: { checkpointId: number; snapshotPath: string } | null) =>
    deps.call({ type: 'open', task: deps.task, dataDir: deps.dataDir, restore }, 'opened');
  if (deps.restoreFrom === 0) return open(null);
  const candidates = (await deps.checkpoints.completed()).filter((id) => id <= deps.restoreFrom).slice(0, fallbackDepth);
  const failures: string[] = [];
  for (const checkpointId of candidates) {
    try {
      const manifest = await deps.checkpoints.readManifest(checkpointId);
      const entry = manifest.tasks.find((t) => t.task === deps.task);
      if (entry === undefined) throw new Error(`checkpoint ${checkpointId} has no snapshot of task ${deps.task}`);
      return await open({ checkpointId, snapshotPath: deps.checkpoints.resolve(entry.snapshot) });
    } catch (err) {
      const message = ensureError(err).message;
      failures.push(`checkpoint ${checkpointId}: ${message}`);
      deps.logger.error({ task: deps.task, checkpoint: checkpointId, err: message }, 'cannot restore from this checkpoint; trying an older one');
    }
  }
  throw new Error(`task ${deps.task}: no usable checkpoint at or below ${deps.restoreFrom} in ${deps.checkpoints.root} (${failures.join('; ') || 'none found'})`);
}

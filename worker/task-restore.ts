/**
 * Bringing a task back on a new owner, in the order that keeps exactly-once:
 *
 * 1. fence: initialise the task's transactional id, which aborts a dead owner's open
 *    transaction (or waits for one already committing) and fences every earlier owner;
 * 2. read the marker m: the last checkpoint whose outputs this task published, and the store
 *    that checkpoint is from. Fencing first closes the race with a zombie committing now;
 * 3. choose the checkpoint, never going backwards silently: the one the coordinator named, or
 *    m if m is newer (the coordinator's view was behind: m completed while the Assign was on
 *    its way). A marker of another checkpoint store, or one newer than every manifest here,
 *    is refused with an error naming the task, the checkpoint and the marker;
 * 4. restore state from its snapshot chain (a base and deltas), or from the next older complete
 *    checkpoint if a link fails verification (the error names the file);
 * 5. publish the restored buffer's outputs of epochs in (m, restored], with marker restored,
 *    in one transaction, and drop the rest (already published). A sink of several parts
 *    (Kafka and databases, committed one after another) reports the oldest part's mark too;
 *    the buffer then goes from there, and each part skips what it has. If a corrupt snapshot made the
 *    restore fall back below m, the task instead replays its input up to checkpoint m's offsets
 *    (from m's manifest) and discards what that replay emits, which m's transaction published
 *    already: its state catches up and nothing is published twice.
 *
 * A fallback never goes past a rescale (state/rescale.ts): a checkpoint of another task count
 * holds the keys where the old count put them, and is refused like a damaged one.
 */
import { ensureError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { CheckpointStore } from '../state/checkpoint-store.ts';
import { chainOf } from '../state/snapshot-chain.ts';
import type { ExactlyOnceSink } from '../job/contract/sink.ts';
import type { CompactionPolicy, RestoreSource, TaskOffsets, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

/** Complete checkpoints tried, newest first, before giving up. */
const fallbackDepth = 3;

export interface RestoreDeps {
  task: number;
  /** Checkpoint named by the coordinator; 0 = fresh state. */
  restoreFrom: number;
  dataDir: string;
  checkpoints: CheckpointStore;
  transactions: ExactlyOnceSink & { taskCount(): Promise<number> };
  /** When the task writes a new snapshot base in the background (default: worker/runtime/snapshot-jobs.ts). */
  compaction?: CompactionPolicy;
  logger: Logger;
  call<T extends ThreadResponse['type']>(request: ThreadRequest, expect: T): Promise<Extract<ThreadResponse, { type: T }>>;
}

export interface Restored {
  restoredFrom: number;
  offsets: TaskOffsets;
  /** Outputs of epochs up to here are published (or were, by an earlier owner). */
  publishedThrough: number;
  /**
   * Set when the state is older than what was published: read up to these offsets (checkpoint
   * `publishedThrough`'s) and discard the outputs before publishing anything new.
   */
  replayUntil?: TaskOffsets;
}

/** A restore that would lose or repeat outputs; the task fails with this reason and is reported. */
export class RestoreRefusedError extends Error {
  override readonly name = 'RestoreRefusedError';
}

export async function restoreTask(deps: RestoreDeps): Promise<Restored> {
  const { task } = deps;
  await deps.transactions.fence();
  const identity = await deps.checkpoints.existingIdentity();
  const marker = await deps.transactions.lastPublished();
  const published = marker?.checkpointId ?? 0;
  // Parts of the sink (Kafka, each database) commit one after another: some may be behind.
  const oldest = marker?.oldest ?? published;
  if (marker !== undefined && (identity === undefined || marker.store !== identity.storeId)) {
    throw new RestoreRefusedError(
      `task ${task}: its commit marker says checkpoint ${published} of ${marker.store === undefined ? 'an unknown checkpoint store' : `checkpoint store ${marker.store}`} was published, ` +
        `but this cluster's checkpoint store ${deps.checkpoints.root} is ${identity?.storeId ?? 'new'} (asked to restore checkpoint ${deps.restoreFrom}): ` +
        'the checkpoint directory was lost or is not the one the job ran with. Point checkpoint.dir at the right one, ' +
        'or start the job over with `eddy reset` (carrying on here would publish its results a second time)',
    );
  }
  let target = deps.restoreFrom;
  if (published > target) {
    if (!(await deps.checkpoints.isComplete(published))) {
      throw new RestoreRefusedError(
        `task ${task}: asked to restore checkpoint ${target}, but its commit marker says checkpoint ${published} was published and ${deps.checkpoints.root} has no manifest of it: ` +
          'refusing to go backwards, which would publish the outputs in between again',
      );
    }
    deps.logger.warn({ task, restoreFrom: target, marker: published }, 'the marker is newer than the checkpoint named by the coordinator: restoring the marker\'s checkpoint');
    target = published;
  }
  const opened = await openFromCheckpoint(deps, target);
  const restoredFrom = opened.restoredFrom;
  if (restoredFrom === 0) return { restoredFrom, offsets: opened.offsets, publishedThrough: 0 };
  if (published > restoredFrom) {
    // Fell back past unusable snapshots of checkpoints whose outputs are published.
    if (oldest < published) {
      throw new RestoreRefusedError(
        `task ${task}: checkpoint ${published}'s snapshot cannot be restored, and not every sink published it (one stopped at checkpoint ${oldest}): ` +
          'replaying from an older checkpoint would publish its outputs to the sinks that have them. Repair or restore the snapshot files of checkpoint ' +
          `${published} in ${deps.checkpoints.root}`,
      );
    }
    const entry = (await deps.checkpoints.readManifest(published)).tasks.find((t) => t.task === task);
    if (entry === undefined) throw new RestoreRefusedError(`task ${task}: checkpoint ${published}'s manifest has no entry for it; cannot tell where its published outputs end`);
    await deps.call({ type: 'outputs-published', task, checkpointId: restoredFrom }, 'outputs-published');
    deps.logger.warn(
      { task, restoredFrom, marker: published, replayUntil: entry.offsets },
      'restored from a checkpoint older than the published one: replaying up to its offsets without publishing',
    );
    return { restoredFrom, offsets: opened.offsets, publishedThrough: published, replayUntil: entry.offsets };
  }
  if (oldest < restoredFrom) {
    const buffered = await deps.call({ type: 'committed-outputs', task, checkpointId: restoredFrom }, 'committed-outputs');
    const unpublished = buffered.outputs.filter((o) => o.epoch > oldest);
    await deps.transactions.publish(restoredFrom, unpublished);
    deps.logger.info({ task, checkpoint: restoredFrom, marker: published, oldest, published: unpublished.length }, 'published the restored checkpoint\'s pending outputs');
  }
  await deps.call({ type: 'outputs-published', task, checkpointId: restoredFrom }, 'outputs-published');
  return { restoredFrom, offsets: opened.offsets, publishedThrough: restoredFrom };
}

async function openFromCheckpoint(deps: RestoreDeps, target: number): Promise<Extract<ThreadResponse, { type: 'opened' }>> {
  const taskCount = await deps.transactions.taskCount();
  const open = (restore: RestoreSource | null) =>
    deps.call({ type: 'open', task: deps.task, dataDir: deps.dataDir, restore, taskCount, ...(deps.compaction === undefined ? {} : { compaction: deps.compaction }) }, 'opened');
  if (target === 0) return open(null);
  const candidates = (await deps.checkpoints.completed()).filter((id) => id <= target).slice(0, fallbackDepth);
  const failures: string[] = [];
  for (const checkpointId of candidates) {
    try {
      const manifest = await deps.checkpoints.readManifest(checkpointId);
      // A checkpoint from before a rescale holds keys where the old task count put them.
      if (manifest.tasks.length !== taskCount) throw new Error(`checkpoint ${checkpointId} is of ${manifest.tasks.length} tasks and the job has ${taskCount}: it is from before a rescale`);
      const entry = manifest.tasks.find((t) => t.task === deps.task);
      if (entry === undefined) throw new Error(`checkpoint ${checkpointId} has no snapshot of task ${deps.task}`);
      return await open({ checkpointId, root: deps.checkpoints.root, chain: chainOf(entry, checkpointId) });
    } catch (err) {
      const message = ensureError(err).message;
      failures.push(`checkpoint ${checkpointId}: ${message}`);
      deps.logger.error({ task: deps.task, checkpoint: checkpointId, err: message }, 'cannot restore from this checkpoint; trying an older one');
    }
  }
  throw new Error(`task ${deps.task}: no usable checkpoint at or below ${target} in ${deps.checkpoints.root} (${failures.join('; ') || 'none found'})`);
}

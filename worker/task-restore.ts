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
 *    checkpoint if a link fails verification (the error names the file); past the retained
 *    checkpoints, from the task's fallbacks (older chains the store kept, one of them sharing no
 *    file with the newest, see state/checkpoint-store.ts), and past those from no state at all, rebuilt from the input,
 *    when the input is all still there (every partition of the task starts at offset 0) and was
 *    never re-sharded;
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
import type { CheckpointStore, TaskCheckpoint } from '../state/checkpoint-store.ts';
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
  /**
   * The task's input as a rebuild needs to know it: where its partitions start now (their log
   * start offsets), and which of its topics are compacted. Without it a task whose every
   * checkpoint is damaged is never rebuilt from its input.
   */
  input?: () => Promise<{ start: TaskOffsets; compacted: string[] }>;
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
        `but this cluster's checkpoint store ${deps.checkpoints.location} is ${identity?.storeId ?? 'new'} (asked to restore checkpoint ${deps.restoreFrom}): ` +
        'the checkpoint directory was lost or is not the one the job ran with. Point checkpoint.dir at the right one, ' +
        'or start the job over with `eddy reset` (carrying on here would publish its results a second time)',
    );
  }
  let target = deps.restoreFrom;
  if (published > target) {
    if (!(await deps.checkpoints.isComplete(published))) {
      throw new RestoreRefusedError(
        `task ${task}: asked to restore checkpoint ${target}, but its commit marker says checkpoint ${published} was published and ${deps.checkpoints.location} has no manifest of it: ` +
          'refusing to go backwards, which would publish the outputs in between again',
      );
    }
    deps.logger.warn({ task, restoreFrom: target, marker: published }, 'the marker is newer than the checkpoint named by the coordinator: restoring the marker\'s checkpoint');
    target = published;
  }
  const opened = await openFromCheckpoint(deps, target);
  const restoredFrom = opened.restoredFrom;
  if (restoredFrom === 0 && published === 0) return { restoredFrom, offsets: opened.offsets, publishedThrough: 0 };
  if (published > restoredFrom) {
    // Fell back past unusable snapshots of checkpoints whose outputs are published.
    if (oldest < published) {
      throw new RestoreRefusedError(
        `task ${task}: checkpoint ${published}'s snapshot cannot be restored, and not every sink published it (one stopped at checkpoint ${oldest}): ` +
          'replaying from an older checkpoint would publish its outputs to the sinks that have them. Repair or restore the snapshot files of checkpoint ' +
          `${published} in ${deps.checkpoints.location}`,
      );
    }
    const replayUntil = await deps.checkpoints.offsetsOf(published, task);
    if (replayUntil === undefined) {
      throw new RestoreRefusedError(`task ${task}: restored checkpoint ${restoredFrom}, but checkpoint ${published} (its published one) is neither retained nor remembered in ${deps.checkpoints.location}; cannot tell where its published outputs end`);
    }
    if (restoredFrom > 0) await deps.call({ type: 'outputs-published', task, checkpointId: restoredFrom }, 'outputs-published');
    deps.logger.warn(
      { task, restoredFrom, marker: published, replayUntil },
      'restored from a checkpoint older than the published one: replaying up to its offsets without publishing',
    );
    return { restoredFrom, offsets: opened.offsets, publishedThrough: published, replayUntil };
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
  const failures: string[] = [];
  const attempt = async (checkpointId: number, entryOf: () => Promise<{ taskCount: number; entry: TaskCheckpoint | undefined }>) => {
    try {
      const { taskCount: count, entry } = await entryOf();
      // A checkpoint from before a rescale holds keys where the old task count put them.
      if (count !== taskCount) throw new Error(`checkpoint ${checkpointId} is of ${count} tasks and the job has ${taskCount}: it is from before a rescale`);
      if (entry === undefined) throw new Error(`checkpoint ${checkpointId} has no snapshot of task ${deps.task}`);
      const chain = chainOf(entry, checkpointId);
      const release = await deps.checkpoints.fetch(chain.map((link) => link.ref));
      try {
        return await open({ checkpointId, root: deps.checkpoints.root, chain });
      } finally {
        await release();
      }
    } catch (err) {
      const message = ensureError(err).message;
      failures.push(`checkpoint ${checkpointId}: ${message}`);
      deps.logger.error({ task: deps.task, checkpoint: checkpointId, err: message }, 'cannot restore from this checkpoint; trying an older one');
      return undefined;
    }
  };
  const candidates = (await deps.checkpoints.completed()).filter((id) => id <= target).slice(0, fallbackDepth);
  for (const checkpointId of candidates) {
    const opened = await attempt(checkpointId, async () => {
      const manifest = await deps.checkpoints.readManifest(checkpointId);
      return { taskCount: manifest.tasks.length, entry: manifest.tasks.find((t) => t.task === deps.task) };
    });
    if (opened !== undefined) return opened;
  }
  for (const fallback of await deps.checkpoints.fallbacks(deps.task)) {
    if (fallback.checkpointId > target || candidates.includes(fallback.checkpointId)) continue;
    deps.logger.warn({ task: deps.task, checkpoint: fallback.checkpointId }, 'trying a fallback the checkpoint store kept of the task: an older chain');
    const opened = await attempt(fallback.checkpointId, () => Promise.resolve({ taskCount: fallback.taskCount, entry: fallback.entry }));
    if (opened !== undefined) return opened;
  }
  const rebuild = await rebuildable(deps);
  if (typeof rebuild !== 'string') {
    deps.logger.warn({ task: deps.task, failures }, 'no checkpoint of the task is usable: rebuilding its state from its whole input, which is all still in Kafka');
    // From offset 0 itself, as checked, not from wherever the log starts by the time it is read.
    return { ...(await open(null)), offsets: rebuild.start };
  }
  throw new Error(`task ${deps.task}: no usable checkpoint at or below ${target} in ${deps.checkpoints.location} (${failures.join('; ') || 'none found'}); ${rebuild}`);
}

/**
 * True when the task's state can be rebuilt from nothing by reading its input again: every
 * partition still starts at offset 0 (a fresh task reads from the log start, so nothing it read
 * has been deleted since), the state was never re-sharded (the partitions would hold records of
 * keys another task has), the task reads one topic (a replay of several would not interleave as
 * the first run did), and that topic is not compacted. Otherwise the reason it cannot. (What the rebuild then replays without
 * publishing, and the refusal when the sink's parts disagree, are restoreTask's.)
 */
async function rebuildable(deps: RestoreDeps): Promise<{ start: TaskOffsets } | string> {
  if (deps.input === undefined) return 'and it cannot be rebuilt from its input here';
  if (await deps.checkpoints.wasRescaled()) return 'and it cannot be rebuilt from its input: the job was rescaled, so its partitions hold records of keys other tasks have now';
  const { start, compacted } = await deps.input();
  const topics = Object.keys(start);
  // A replay of several topics ends at the first record past any one topic's end, and their
  // interleaving is not the first run's: only a task of one input topic replays exactly.
  if (topics.length !== 1) return `and it cannot be rebuilt from its input: it reads ${topics.length} topics (${topics.join(', ')}), whose replay would not interleave as the first run did`;
  if (compacted.length > 0) return `and it cannot be rebuilt from its input: ${compacted.join(', ')} is compacted, so older records of a key may be gone`;
  const trimmed = Object.entries(start).filter(([, offset]) => offset !== '0');
  if (trimmed.length > 0) {
    return `and it cannot be rebuilt from its input: ${trimmed.map(([topic, offset]) => `${topic} partition ${deps.task} starts at offset ${offset}`).join(', ')} (records were deleted)`;
  }
  return { start };
}

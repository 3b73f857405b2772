/**
 * Re-sharding a checkpoint to a new task count, as Flink restores a savepoint with a new
 * parallelism: every key's state goes to the task that will read the key's records.
 *
 * A task is a source partition, and a keyed actor's records reach the task of their Kafka key's
 * partition under Kafka's default partitioner (murmur2 of the UTF-8 key): Eddy's own repartition
 * topics are written that way, and so is any topic whose producer keys records by the actor's
 * key. Re-sharding relies on that, and checks it: every actor state and timer must sit in the
 * task the partitioner gives its key under the old count, or the rescale is refused (an actor
 * keyed by something other than its records' Kafka key cannot be moved correctly).
 *
 * What a new task gets (`to` ≥ `from` tasks; Kafka partitions only grow):
 * - actor states (`a`) and timers (`t`): those whose key the partitioner puts in it;
 * - offsets (`o`) and buffered outputs (`b`): those of the old task with the same number, which
 *   reads the same partitions and publishes under the same transactional id and commit marker
 *   (a new partition has none: it is read from its start and has nothing buffered);
 * - the watermark (`w`): the lowest of the old tasks', so that no record becomes late that was
 *   not, and no timer fires early.
 *
 * Each old task's chain is verified and loaded into a scratch LevelDB, streamed out, and
 * written into one scratch LevelDB per new task (which sorts), and each of those is written as
 * the new checkpoint's base. The scratch directory is removed afterwards.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RescaleRefusedError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { keyPartitioner, type KeyPartitioner } from '../common/partitioner.ts';
import { manifestFormat, type CheckpointManifest, type CheckpointStore, type TaskCheckpoint } from './checkpoint-store.ts';
import { openView, type RawEntry } from './level-bulk.ts';
import { openLevel, type Db } from './level-open.ts';
import { chainOf } from './snapshot-chain.ts';
import { writeSnapshot } from './snapshot-writer.ts';
import { PREFIX, WATERMARK_KEY, keyOfActorKey, type StoredTimer } from './store-keys.ts';
import { restoreTaskStore } from './task-store-open.ts';
import type { StoredWatermark } from './task-store.ts';


export interface RescaleOptions {
  store: CheckpointStore;
  /** The complete checkpoint to re-shard. */
  from: CheckpointManifest;
  /** The new task count, ≥ the checkpoint's. */
  taskCount: number;
  /** The id of the checkpoint written; above every id the store has used. */
  checkpointId: number;
  /** Scratch space for the LevelDBs; removed afterwards. */
  workDir: string;
  logger: Logger;
}

const decoder = new TextDecoder();
/** Entries written to a new task's scratch database per batch. */
const batchRecords = 4_096;

/**
 * Writes checkpoint `checkpointId`: `from`'s state re-sharded to `taskCount` tasks, and returns
 * its manifest, already written (so the checkpoint is complete and the newest).
 * @throws RescaleRefusedError when a key's state is not where Kafka's default partitioner puts it
 */
export async function rescaleCheckpoint(options: RescaleOptions): Promise<CheckpointManifest> {
  const { store, from, taskCount, checkpointId } = options;
  const oldCount = from.tasks.length;
  const oldTasks = [...from.tasks].sort((a, b) => a.task - b.task);
  if (oldTasks.some((t, i) => t.task !== i)) throw new RescaleRefusedError(`checkpoint ${from.checkpointId} does not hold tasks 0..${oldCount - 1}`);
  if (taskCount < oldCount) {
    throw new RescaleRefusedError(`checkpoint ${from.checkpointId} has ${oldCount} tasks and the job now has ${taskCount}: a Kafka topic's partitions can be added, not removed, so state cannot be merged into fewer tasks`);
  }
  if (checkpointId <= from.checkpointId) throw new RangeError(`the re-sharded checkpoint's id ${checkpointId} must be above ${from.checkpointId}`);
  await rm(options.workDir, { recursive: true, force: true });
  await mkdir(options.workDir, { recursive: true });
  const targets: Db[] = [];
  try {
    for (let task = 0; task < taskCount; task++) targets.push(await openLevel(join(options.workDir, `new-${task}`), 0));
    const oldPartition = keyPartitioner('', oldCount);
    const newPartition = keyPartitioner('', taskCount);
    const watermarks: StoredWatermark[] = [];
    for (const old of oldTasks) {
      const moved = await reshardTask(options, old, targets, { oldPartition, newPartition, watermarks });
      options.logger.info({ task: old.task, checkpoint: from.checkpointId, ...moved }, 'rescale: re-sharded a task\'s state');
    }
    const watermark = lowestWatermark(watermarks);
    if (watermark !== undefined) for (const db of targets) await db.put(WATERMARK_KEY, watermark);
    const tasks: TaskCheckpoint[] = [];
    for (const [task, db] of targets.entries()) {
      const ref = store.snapshotRef(checkpointId, task, 'rescale', 0);
      const view = openView(db);
      let written;
      try {
        written = await writeSnapshot(store.resolve(ref), { task, checkpointId, kind: 'base' }, view.batches());
      } finally {
        await view.close();
      }
      await store.publish([ref]);
      tasks.push({
        task, owner: 'rescale', generation: 0, snapshot: ref, bytes: written.bytes, records: written.records,
        offsets: oldTasks[task]?.offsets ?? {},
        chain: [{ ref, checkpointId, kind: 'base', bytes: written.bytes, records: written.records }],
      });
    }
    const now = Date.now();
    const manifest: CheckpointManifest = { format: manifestFormat, job: from.job, checkpointId, triggeredAtMs: now, completedAtMs: now, tasks };
    // From here on the input holds records partitioned by two task counts: no task may be rebuilt from it alone.
    await store.noteRescale(checkpointId);
    await store.writeManifest(manifest);
    return manifest;
  } finally {
    for (const db of targets) await db.close().catch(() => undefined);
    await rm(options.workDir, { recursive: true, force: true });
  }
}

type Routing = { oldPartition: KeyPartitioner; newPartition: KeyPartitioner; watermarks: StoredWatermark[] };

/** Streams one old task's entries into the new tasks' databases; returns what went where. */
async function reshardTask(options: RescaleOptions, old: TaskCheckpoint, targets: Db[], routing: Routing): Promise<{ actors: number; timers: number; buffered: number }> {
  const chain = chainOf(old, options.from.checkpointId);
  const release = await options.store.fetch(chain.map((link) => link.ref));
  const source = await restoreTaskStore(join(options.workDir, `old-${old.task}`), { task: old.task, root: options.store.root, chain }).finally(release);
  const pending = targets.map((): RawEntry[] => []);
  const counts = { actors: 0, timers: 0, buffered: 0 };
  const flush = async (task: number): Promise<void> => {
    const batch = pending[task]!;
    if (batch.length === 0) return;
    pending[task] = [];
    await targets[task]!.batch<Uint8Array, Uint8Array>(batch.map(([key, value]) => ({ type: 'put', key, value })), { keyEncoding: 'view', valueEncoding: 'view' });
  };
  const put = async (task: number, entry: RawEntry): Promise<void> => {
    pending[task]!.push(entry);
    if (pending[task]!.length >= batchRecords) await flush(task);
  };
  /** The new task of a key, after checking the key sits where the old count put it. */
  const route = (key: string, what: string): number => {
    const expected = routing.oldPartition(key);
    if (expected !== old.task) {
      throw new RescaleRefusedError(
        `checkpoint ${options.from.checkpointId}, task ${old.task}: ${what} is in task ${old.task}, but Kafka's default partitioner puts key ${JSON.stringify(key)} ` +
          `in partition ${expected} of ${options.from.tasks.length}: this actor is not keyed by its records' Kafka key, so the task its records reach after rescaling cannot be known. ` +
          'Key the actor by the Kafka key, or re-key its input through a repartition topic, to rescale this job',
      );
    }
    return routing.newPartition(key);
  };
  const view = source.openView();
  try {
    for await (const batch of view.batches()) {
      for (const entry of batch) {
        const key = decoder.decode(entry[0]);
        const prefix = key.slice(0, key.indexOf('\x00'));
        if (prefix === PREFIX.actor) {
          const actorKey = keyOfActorKey(key);
          await put(route(actorKey, `the state of actor '${key.split('\x00')[1] ?? ''}' for key ${JSON.stringify(actorKey)}`), entry);
          counts.actors += 1;
        } else if (prefix === PREFIX.timer) {
          const timer = JSON.parse(decoder.decode(entry[1])) as StoredTimer;
          await put(route(timer.key, `a timer of actor '${timer.actor}' for key ${JSON.stringify(timer.key)}`), entry);
          counts.timers += 1;
        } else if (prefix === PREFIX.offset) {
          await put(old.task, entry);
        } else if (prefix === PREFIX.buffer) {
          await put(old.task, entry);
          counts.buffered += 1;
        } else if (key === WATERMARK_KEY) {
          routing.watermarks.push(JSON.parse(decoder.decode(entry[1])) as StoredWatermark);
        } else {
          throw new RescaleRefusedError(`checkpoint ${options.from.checkpointId}, task ${old.task}: an entry of unknown kind ${JSON.stringify(key.slice(0, 40))}; this Eddy cannot re-shard it`);
        }
      }
    }
    for (const task of targets.keys()) await flush(task);
  } finally {
    await view.close();
    await source.close();
    await rm(join(options.workDir, `old-${old.task}`), { recursive: true, force: true });
  }
  return counts;
}

/** The watermark furthest behind (no watermark at all is furthest), as stored; undefined when no task had one. */
function lowestWatermark(watermarks: StoredWatermark[]): string | undefined {
  let lowest: StoredWatermark | undefined;
  for (const w of watermarks) {
    if (lowest === undefined || (lowest.watermarkMs !== null && (w.watermarkMs === null || w.watermarkMs < lowest.watermarkMs))) lowest = w;
  }
  return lowest === undefined ? undefined : JSON.stringify(lowest);
}

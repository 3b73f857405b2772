/**
 * The checkpoint store: a directory shared by every process of a job on one host (or a shared
 * volume across hosts). Snapshots are written by workers to
 * `chk-<n>/task-<t>.<owner>.g<generation>.snap`, a name no other owner or assignment of the task
 * can write, so a stale writer that wakes up late never replaces an acknowledged file. A
 * checkpoint exists only once the coordinator has written its manifest `manifests/chk-<n>.json`
 * atomically (temp file, fsync, rename, fsync of the directory). Readers trust manifests only.
 *
 * A task's snapshot in a checkpoint is a chain of files (a base and deltas, see
 * snapshot-chain.ts) that later checkpoints share, so a file goes only when no retained manifest
 * names it, and only from the directories of checkpoints older than the oldest retained one: a
 * snapshot in flight builds on files a retained manifest names or on files of checkpoints newer
 * than the newest complete one (a task's chain only grows by its own barriers, and no checkpoint
 * completes without the task's newest barrier).
 *
 * Chains share files, so one damaged file can be in every retained checkpoint of a task (its
 * base, or a delta all of them build on). So when a manifest goes, the store keeps for each
 * task up to two **fallbacks** (all in `fallbacks.json`), entries of dropped checkpoints
 * with their files: the newest dropped one (its chain stops before the deltas only retained
 * checkpoints have, so it survives damage to any of those; it costs a delta), and the newest
 * whose chain shares no file with the newest retained one (so it survives any single damaged
 * file of the newest chain, and of the retained chains that share its files; it costs the
 * task's previous chain on disk).
 *
 * `store.json` names the store (a random id, written once): commit markers carry it, so a task
 * can tell markers written from this store's checkpoints from those of a lost or other store.
 * `rescaled.json` says a rescale re-sharded the state once, so the input's partitions hold
 * records written under another task count (a task must not be rebuilt from its input alone).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../common/pids.ts';
import type { TaskOffsets } from '../worker/thread-protocol.ts';
import { chainOf, type SnapshotLink } from './snapshot-chain.ts';
import { ObjectStoreFiles, type ObjectStoreOptions } from './s3-store-files.ts';
import { DirectoryFiles, type StoreFiles } from './store-files.ts';

/**
 * 2 added each task's owner and generation (a format-1 manifest still restores, but proves no
 * claim); 3 added each task's snapshot chain (an entry without one is a single base).
 */
export const manifestFormat = 3;

export interface TaskCheckpoint {
  task: number;
  /** The worker whose ack put the snapshot here, and the generation of its Assign: the proof a claim is checked against. */
  owner: string;
  generation: number;
  /** The newest file of `chain`, relative to the store root. */
  snapshot: string;
  /** What this checkpoint wrote for the task (0 when nothing changed since the previous one). */
  bytes: number;
  records: number;
  offsets: TaskOffsets;
  /** The task's state: a base, then the deltas after it (absent before format 3: `snapshot` alone, a base). */
  chain?: SnapshotLink[];
}

export interface CheckpointManifest {
  format: number;
  job: string;
  checkpointId: number;
  triggeredAtMs: number;
  completedAtMs: number;
  tasks: TaskCheckpoint[];
}

/** A task's checkpoint kept past its manifest, for when every retained chain of the task is damaged. */
export interface TaskFallback {
  format: 1;
  checkpointId: number;
  /** The job's task count in that checkpoint: a fallback never crosses a rescale. */
  taskCount: number;
  entry: TaskCheckpoint;
}

/** `fallbacks.json`: each task's fallbacks, and the offsets of dropped checkpoints a replay from them may end at. */
interface FallbackFile {
  format: 1;
  tasks: Record<number, TaskFallback[]>;
  offsets?: Record<number, Record<number, TaskOffsets>>;
}

export interface StoreIdentity {
  job: string;
  storeId: string;
  createdAtMs: number;
}

const manifestName = /^chk-(\d+)\.json$/;
const snapshotDirName = /^chk-(\d+)$/;

export class CheckpointStore {
  readonly files: StoreFiles;

  /** A store in directory `root`, or in `files` (an object store, see store-files.ts). */
  constructor(root: string | StoreFiles) {
    this.files = typeof root === 'string' ? new DirectoryFiles(root) : root;
  }

  /** Where snapshot files are written and read as local files (the store itself, or this process's cache of it). */
  get root(): string {
    return this.files.localRoot;
  }

  /** Where the store is, for messages. */
  get location(): string {
    return this.files.location;
  }

  private identityValue: StoreIdentity | undefined;

  /**
   * Relative path of a task's snapshot in checkpoint `id` (what acks and manifests carry), unique
   * to the writing process (`owner`) and the Assign it runs the task under (`generation`).
   */
  snapshotRef(checkpointId: number, task: number, owner: string, generation: number): string {
    return join(`chk-${checkpointId}`, `task-${task}.${owner.replace(/[^A-Za-z0-9_-]/g, '_')}.g${generation}.snap`);
  }

  /** The store's identity, created on first use (the coordinator does this before assigning any task). */
  async identity(job: string): Promise<StoreIdentity> {
    const existing = await this.existingIdentity();
    if (existing !== undefined) return existing;
    await this.files.write('store.json', JSON.stringify({ job, storeId: randomUUID(), createdAtMs: Date.now() }));
    return (await this.existingIdentity()) as StoreIdentity;
  }

  /** The store's identity if it has one (a store nobody started yet has none). */
  async existingIdentity(): Promise<StoreIdentity | undefined> {
    if (this.identityValue !== undefined) return this.identityValue;
    const text = await this.files.read('store.json');
    return text === undefined ? undefined : (this.identityValue = JSON.parse(text) as StoreIdentity);
  }

  /** Absolute path of a snapshot given its relative path. */
  resolve(ref: string): string {
    return join(this.root, ref);
  }

  /** Makes snapshot files a thread wrote part of the store; resolves before their ack may go out. */
  publish(refs: readonly string[]): Promise<void> {
    return this.files.publish(refs);
  }

  /** Makes a chain's files readable at `resolve(ref)`; the returned function lets go of local copies. */
  fetch(refs: readonly string[]): Promise<() => Promise<void>> {
    return this.files.fetch(refs);
  }

  /** Writes manifest `checkpointId` atomically; once this resolves the checkpoint is complete. */
  async writeManifest(manifest: CheckpointManifest): Promise<void> {
    await this.files.write(`manifests/chk-${manifest.checkpointId}.json`, JSON.stringify(manifest, null, 1));
  }

  /** True if checkpoint `checkpointId` is complete (its manifest exists). */
  async isComplete(checkpointId: number): Promise<boolean> {
    return (await this.completed()).includes(checkpointId);
  }

  async readManifest(checkpointId: number): Promise<CheckpointManifest> {
    const name = `manifests/chk-${checkpointId}.json`;
    const text = await this.files.read(name);
    if (text === undefined) throw Object.assign(new Error(`checkpoint manifest ${name} is not in ${this.location}`), { code: 'ENOENT' });
    const manifest = JSON.parse(text) as CheckpointManifest;
    if (!(manifest.format >= 1 && manifest.format <= manifestFormat) || manifest.checkpointId !== checkpointId) {
      throw new Error(`checkpoint manifest ${name} in ${this.location}: format ${manifest.format} / id ${manifest.checkpointId} is not what was asked for`);
    }
    return manifest;
  }

  /** Ids of completed checkpoints, newest first. */
  async completed(): Promise<number[]> {
    return (await this.idsIn('manifests', manifestName)).sort((a, b) => b - a);
  }

  /** The highest id ever used here, complete or not, so a new coordinator never reuses one. */
  async highestId(): Promise<number> {
    const ids = [...(await this.idsIn('manifests', manifestName)), ...(await this.idsIn('', snapshotDirName))];
    return ids.length === 0 ? 0 : Math.max(...ids);
  }

  /**
   * Keeps the newest `keep` complete checkpoints and deletes the older manifests, first keeping
   * from them each task's fallbacks (see above); then, in the directories of checkpoints older
   * than the oldest kept, deletes every file neither a kept manifest nor a fallback names
   * (abandoned attempts, links no chain uses any more), and the directories left empty.
   */
  async retain(keep: number): Promise<number[]> {
    const complete = await this.completed();
    const kept = complete.slice(0, keep);
    const oldestKept = kept[kept.length - 1];
    if (oldestKept === undefined) return [];
    const keptManifests = await Promise.all(kept.map((id) => this.readManifest(id)));
    const dropped: CheckpointManifest[] = [];
    for (const id of complete.slice(keep)) {
      // A manifest that cannot be read is no fallback; it goes like the others.
      const manifest = await this.readManifest(id).catch(() => undefined);
      if (manifest !== undefined) dropped.push(manifest);
    }
    const fallbacks = (await this.keepFallbacks(keptManifests[0] as CheckpointManifest, dropped)).flat();
    const removed = complete.slice(keep);
    await this.files.remove(removed.map((id) => `manifests/chk-${id}.json`));
    const needed = new Set<string>();
    const need = (entry: TaskCheckpoint, checkpointId: number) => {
      for (const link of chainOf(entry, checkpointId)) needed.add(join(link.ref));
    };
    for (const manifest of keptManifests) for (const entry of manifest.tasks) need(entry, manifest.checkpointId);
    for (const fallback of fallbacks) need(fallback.entry, fallback.checkpointId);
    for (const id of await this.idsIn('', snapshotDirName)) {
      if (id >= oldestKept) continue;
      const dir = `chk-${id}`;
      const names = await this.files.list(dir).catch(() => []);
      const unneeded = names.filter((name) => !needed.has(join(dir, name)));
      if (unneeded.length === names.length) await this.files.removeDir(dir);
      else await this.files.remove(unneeded.map((name) => join(dir, name)));
    }
    return removed;
  }

  /** Task `task`'s fallbacks, newest first (none before a manifest of the task was dropped). */
  async fallbacks(task: number): Promise<TaskFallback[]> {
    return (await this.fallbackFileOrNone()).tasks[task] ?? [];
  }

  /**
   * Task `task`'s source offsets at checkpoint `checkpointId`: from its manifest, or, once that
   * is gone, from the offsets retention keeps of dropped checkpoints no older than the task's
   * oldest fallback (a restore from a fallback replays up to the published checkpoint's offsets).
   */
  async offsetsOf(checkpointId: number, task: number): Promise<TaskOffsets | undefined> {
    try {
      return (await this.readManifest(checkpointId)).tasks.find((t) => t.task === task)?.offsets;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return (await this.fallbackFileOrNone()).offsets?.[task]?.[checkpointId];
  }

  /** `fallbacks.json`, or none when it is missing or cannot be read (a damaged file is no way back, but no reason to fail either). */
  private async fallbackFileOrNone(): Promise<FallbackFile> {
    try {
      const text = await this.files.read('fallbacks.json');
      if (text !== undefined) return JSON.parse(text) as FallbackFile;
    } catch {
      // as if there were none
    }
    return { format: 1, tasks: {} };
  }


  /** Notes that checkpoint `checkpointId` re-sharded the state (before its manifest is written). */
  async noteRescale(checkpointId: number): Promise<void> {
    await this.files.write('rescaled.json', JSON.stringify({ checkpointId, atMs: Date.now() }));
  }

  /** True once a rescale has re-sharded this store's state. */
  async wasRescaled(): Promise<boolean> {
    return (await this.files.read('rescaled.json')) !== undefined;
  }

  /**
   * Each task's fallbacks after this retention, chosen among its current ones and its entries
   * in the manifests about to go (of the job's current task count): the newest, and the newest
   * whose chain shares no file with the newest kept chain. Written before those manifests
   * are deleted.
   */
  private async keepFallbacks(newest: CheckpointManifest, dropped: readonly CheckpointManifest[]): Promise<TaskFallback[][]> {
    const taskCount = newest.tasks.length;
    // Unreadable: as if there were none (the next retention writes them anew).
    const current = await this.fallbackFileOrNone();
    const chosen: FallbackFile['tasks'] = {};
    const offsets: NonNullable<FallbackFile['offsets']> = {};
    for (const entry of newest.tasks) {
      const fromDropped = dropped.flatMap((manifest) => {
        const old = manifest.tasks.find((t) => t.task === entry.task);
        return old === undefined ? [] : [{ format: 1 as const, checkpointId: manifest.checkpointId, taskCount: manifest.tasks.length, entry: old }];
      });
      const candidates = [...(current.tasks[entry.task] ?? []), ...fromDropped]
        .filter((c) => c.taskCount === taskCount)
        .sort((a, b) => b.checkpointId - a.checkpointId);
      // Shares no file at all with the newest chain: an adopted compaction base keeps the deltas
      // written while it was being made, so "another base" alone is not enough.
      const newestFiles = new Set(chainOf(entry, newest.checkpointId).map((link) => link.ref));
      const disjoint = candidates.find((c) => chainOf(c.entry, c.checkpointId).every((link) => !newestFiles.has(link.ref)));
      const kept = [...new Set([candidates[0], disjoint])].filter((c) => c !== undefined);
      chosen[entry.task] = kept;
      // Offsets of every dropped checkpoint down to the oldest fallback: where a replay from it ends.
      const oldest = Math.min(...kept.map((c) => c.checkpointId));
      const known = { ...(current.offsets?.[entry.task] ?? {}) };
      for (const c of fromDropped) if (c.taskCount === taskCount) known[c.checkpointId] = c.entry.offsets;
      offsets[entry.task] = Object.fromEntries(Object.entries(known).filter(([id]) => Number(id) >= oldest));
    }
    const summary = (f: Pick<FallbackFile, 'tasks' | 'offsets'>) =>
      JSON.stringify([Object.entries(f.tasks).map(([task, list]) => [task, list.map((c) => c.checkpointId)]), Object.entries(f.offsets ?? {}).map(([task, o]) => [task, Object.keys(o)])]);
    // One file for every task: one write per retention, and only when something changed.
    if (summary({ tasks: chosen, offsets }) !== summary(current)) await this.files.write('fallbacks.json', JSON.stringify({ format: 1, tasks: chosen, offsets }));
    return Object.values(chosen);
  }

  /** The files a checkpoint's snapshot of `task` is made of, oldest first (a base, then deltas). */
  async chainOf(checkpointId: number, task: number): Promise<SnapshotLink[]> {
    const entry = (await this.readManifest(checkpointId)).tasks.find((t) => t.task === task);
    if (entry === undefined) throw new Error(`checkpoint ${checkpointId} has no snapshot of task ${task}`);
    return chainOf(entry, checkpointId);
  }

  private async idsIn(dir: string, pattern: RegExp): Promise<number[]> {
    const names = await this.files.list(dir);
    return names.flatMap((name) => {
      const match = pattern.exec(name);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    });
  }
}

/**
 * The store of one job: under a checkpoint directory, or in an object store with this process's
 * own cache under the directory (`.cache/<process>.<pid>/<job>`: no other process, not even one
 * started with the same worker id, writes or empties it). Caches of processes that are gone are
 * deleted here: what they held was never acknowledged or is in the object store.
 */
export function checkpointStoreFor(checkpointDir: string, job: string, objects?: { options: ObjectStoreOptions; process: string }): CheckpointStore {
  if (objects === undefined) return new CheckpointStore(join(checkpointDir, job));
  const caches = join(checkpointDir, '.cache');
  for (const name of existsSync(caches) ? readdirSync(caches) : []) {
    const pid = Number(/\.(\d+)$/.exec(name)?.[1]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) rmSync(join(caches, name), { recursive: true, force: true });
  }
  const cache = join(caches, `${objects.process.replace(/[^A-Za-z0-9_-]/g, '_')}.${process.pid}`, job);
  return new CheckpointStore(new ObjectStoreFiles(objects.options, job, cache));
}


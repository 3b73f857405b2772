/**
 * The checkpoint store: a directory shared by every process of a job on one host (or a shared
 * volume across hosts). Snapshots are written by workers to `chk-<n>/task-<t>.snap`; a
 * checkpoint exists only once the coordinator has written its manifest `manifests/chk-<n>.json`
 * atomically (temp file, fsync, rename, fsync of the directory). Readers trust manifests only.
 */
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskOffsets } from '../worker/thread-protocol.ts';

export const manifestFormat = 1;

export interface TaskCheckpoint {
  task: number;
  /** Snapshot file relative to the store root. */
  snapshot: string;
  bytes: number;
  records: number;
  offsets: TaskOffsets;
}

export interface CheckpointManifest {
  format: number;
  job: string;
  checkpointId: number;
  triggeredAtMs: number;
  completedAtMs: number;
  tasks: TaskCheckpoint[];
}

const manifestName = /^chk-(\d+)\.json$/;
const snapshotDirName = /^chk-(\d+)$/;

export class CheckpointStore {
  constructor(readonly root: string) {}

  /** Relative path of a task's snapshot in checkpoint `id` (what acks and manifests carry). */
  snapshotRef(checkpointId: number, task: number): string {
    return join(`chk-${checkpointId}`, `task-${task}.snap`);
  }

  /** Absolute path of a snapshot given its relative path. */
  resolve(ref: string): string {
    return join(this.root, ref);
  }

  /** Writes manifest `checkpointId` atomically; once this resolves the checkpoint is complete. */
  async writeManifest(manifest: CheckpointManifest): Promise<void> {
    const dir = join(this.root, 'manifests');
    await mkdir(dir, { recursive: true });
    const path = join(dir, `chk-${manifest.checkpointId}.json`);
    const temp = `${path}.tmp-${process.pid}`;
    const file = await open(temp, 'w');
    try {
      await file.writeFile(JSON.stringify(manifest, null, 1));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  async readManifest(checkpointId: number): Promise<CheckpointManifest> {
    const path = join(this.root, 'manifests', `chk-${checkpointId}.json`);
    const manifest = JSON.parse(await readFile(path, 'utf8')) as CheckpointManifest;
    if (manifest.format !== manifestFormat || manifest.checkpointId !== checkpointId) {
      throw new Error(`checkpoint manifest ${path}: format ${manifest.format} / id ${manifest.checkpointId} is not what was asked for`);
    }
    return manifest;
  }

  /** Ids of completed checkpoints, newest first. */
  async completed(): Promise<number[]> {
    return (await this.idsIn(join(this.root, 'manifests'), manifestName)).sort((a, b) => b - a);
  }

  /** The highest id ever used here, complete or not, so a new coordinator never reuses one. */
  async highestId(): Promise<number> {
    const ids = [...(await this.idsIn(join(this.root, 'manifests'), manifestName)), ...(await this.idsIn(this.root, snapshotDirName))];
    return ids.length === 0 ? 0 : Math.max(...ids);
  }

  /** Keeps the newest `keep` complete checkpoints; deletes older ones and abandoned attempts below them. */
  async retain(keep: number): Promise<number[]> {
    const complete = await this.completed();
    const kept = complete.slice(0, keep);
    const oldestKept = kept[kept.length - 1];
    if (oldestKept === undefined) return [];
    const removed: number[] = [];
    for (const id of complete.slice(keep)) {
      await rm(join(this.root, 'manifests', `chk-${id}.json`), { force: true });
      removed.push(id);
    }
    for (const id of await this.idsIn(this.root, snapshotDirName)) {
      if (id < oldestKept) await rm(join(this.root, `chk-${id}`), { recursive: true, force: true });
    }
    return removed;
  }

  private async idsIn(dir: string, pattern: RegExp): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.flatMap((name) => {
      const match = pattern.exec(name);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    });
  }
}

/** The store of one job under a checkpoint directory. */
export function checkpointStoreFor(checkpointDir: string, job: string): CheckpointStore {
  return new CheckpointStore(join(checkpointDir, job));
}

/**
 * Where a checkpoint store keeps its files: a directory (shared by the processes of a job on one
 * host, or a shared volume), or an S3-compatible object store (s3-store-files.ts) for workers on
 * several hosts. The store's layout is the same on both: `store.json`, `manifests/chk-<n>.json`,
 * `chk-<n>/<snapshot files>`, `fallbacks.json`, `rescaled.json`.
 *
 * Snapshot files are written and read by actor threads as local files under `localRoot`. On a
 * directory that is the store itself, and `publish` and `fetch` do nothing. On an object store it
 * is the process's own cache: `publish` uploads what a thread wrote before the worker acks it,
 * and `fetch` downloads a chain before a restore reads it.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoreFiles {
  /** Where the store is, for messages: a path or an s3:// address. */
  readonly location: string;
  /** Where threads write snapshot files and restores read them (relative refs resolve here). */
  readonly localRoot: string;
  /** The text of `name`, or undefined when there is no such file. */
  read(name: string): Promise<string | undefined>;
  /** Replaces `name` whole: a reader sees the old text or the new one, never a part. */
  write(name: string, text: string): Promise<void>;
  /** Names directly under `dir` ('' for the top), files and directories alike; none when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** Deletes files; a missing one is no error. */
  remove(names: readonly string[]): Promise<void>;
  /** Deletes a directory and everything under it. */
  removeDir(dir: string): Promise<void>;
  /** Makes snapshot files a thread wrote under `localRoot` part of the store (before their ack). */
  publish(refs: readonly string[]): Promise<void>;
  /** Makes snapshot files readable under `localRoot`; the returned function lets go of the local copies. */
  fetch(refs: readonly string[]): Promise<() => Promise<void>>;
  /** Deletes the whole store (`eddy reset`). */
  destroy(): Promise<void>;
}

/** A store that is a directory: every process reads and writes it directly. */
export class DirectoryFiles implements StoreFiles {
  constructor(readonly localRoot: string) {}

  get location(): string {
    return this.localRoot;
  }

  async read(name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.localRoot, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async write(name: string, text: string): Promise<void> {
    const path = join(this.localRoot, name);
    const dir = join(path, '..');
    await mkdir(dir, { recursive: true });
    await writeAtomically(path, text);
  }

  async list(dir: string): Promise<string[]> {
    try {
      return await readdir(join(this.localRoot, dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async remove(names: readonly string[]): Promise<void> {
    for (const name of names) await rm(join(this.localRoot, name), { force: true });
  }

  async removeDir(dir: string): Promise<void> {
    await rm(join(this.localRoot, dir), { recursive: true, force: true });
  }

  publish(): Promise<void> {
    return Promise.resolve();
  }

  fetch(): Promise<() => Promise<void>> {
    return Promise.resolve(() => Promise.resolve());
  }

  async destroy(): Promise<void> {
    await rm(this.localRoot, { recursive: true, force: true });
  }
}

/** Temp file, fsync, rename, fsync of the directory: readers see the old file or the whole new one. */
export async function writeAtomically(path: string, content: string | Uint8Array): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  const file = await open(temp, 'wx');
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const dirHandle = await open(join(path, '..'), 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

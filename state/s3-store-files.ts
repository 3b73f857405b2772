/**
 * A checkpoint store in an S3-compatible object store, so workers on several hosts share one
 * store without a shared file system. Object keys are the directory store's paths under
 * `<prefix><job>/`.
 *
 * Why it is as safe as the directory:
 * - A PUT replaces an object whole, so a manifest (the commit point of a checkpoint), `store.json`,
 *   `fallbacks.json` and `rescaled.json` are seen old or new, never half written.
 * - A snapshot is uploaded before its ack is sent (`publish`), so a manifest only names objects
 *   that are in the store. A worker that dies before the upload completes never acks; the
 *   checkpoint is abandoned as on a directory.
 * - A restore downloads every link of the chain (`fetch`) and verifies them as it verifies files:
 *   a missing or damaged object is a missing or damaged link, and the restore tries an older
 *   checkpoint.
 * - Snapshot names carry their writer and its generation, so a stale writer's late upload never
 *   replaces an acknowledged object.
 *
 * Each process has its own cache directory (`localRoot`): threads write snapshots there, and a
 * file is deleted once uploaded; downloads for a restore are deleted once the store is rebuilt.
 * The AWS SDK is loaded on first use, so processes on a directory store never load it.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { StoreFiles } from './store-files.ts';

export interface ObjectStoreOptions {
  bucket: string;
  /** Key prefix of every job's store ('' or ending in '/'). */
  prefix: string;
  /** An S3-compatible server's URL; absent: AWS S3 itself. */
  endpoint?: string;
  region: string;
  /** Path-style addresses (`<endpoint>/<bucket>/<key>`), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Absent: the AWS SDK's own chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** How long a request's socket may stay idle before the request fails (default 15 s). */
  idleTimeoutMs?: number;
}

const sdk = () => import('@aws-sdk/client-s3');

/** Refs this process knows are in the store (uploaded or downloaded here), newest last; bounded, a forgotten one costs a HEAD. */
const storedRemembered = 100_000;

export class ObjectStoreFiles implements StoreFiles {
  private clientValue: S3Client | undefined;
  private readonly base: string;
  private readonly stored = new Set<string>();

  constructor(
    private readonly options: ObjectStoreOptions,
    job: string,
    readonly localRoot: string,
  ) {
    this.base = `${options.prefix}${job}/`;
  }

  get location(): string {
    return `s3://${this.options.bucket}/${this.base}`;
  }

  private async client(): Promise<S3Client> {
    if (this.clientValue !== undefined) return this.clientValue;
    const { S3Client } = await sdk();
    this.clientValue = new S3Client({
      region: this.options.region,
      forcePathStyle: this.options.forcePathStyle,
      ...(this.options.endpoint === undefined ? {} : { endpoint: this.options.endpoint }),
      ...(this.options.credentials === undefined ? {} : { credentials: this.options.credentials }),
      // Checksums only where the API requires them: not every S3-compatible server takes the
      // SDK's default trailing checksums. Snapshots carry their own checksums anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A store that stops answering (a partition, a stalled server) fails a request instead of
      // hanging it: the SDK's default waits forever, and a hung manifest write would stop every
      // later checkpoint. The socket timeout is idle time, so a slow upload that moves goes on.
      // (The handler's `requestTimeout` only warns unless told to throw; `socketTimeout` is idle time.)
      requestHandler: { connectionTimeout: 5_000, socketTimeout: this.options.idleTimeoutMs ?? 15_000 },
      maxAttempts: 3,
    });
    return this.clientValue;
  }

  async read(name: string): Promise<string | undefined> {
    const { GetObjectCommand } = await sdk();
    try {
      const response = await (await this.client()).send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.base + name }));
      return await (response.Body as { transformToString(): Promise<string> }).transformToString();
    } catch (err) {
      if (missing(err)) return undefined;
      throw this.failure(err, `read ${name}`);
    }
  }

  async write(name: string, text: string): Promise<void> {
    const { PutObjectCommand } = await sdk();
    try {
      await (await this.client()).send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.base + name, Body: text, ContentType: 'application/json' }));
    } catch (err) {
      throw this.failure(err, `write ${name}`);
    }
  }

  async list(dir: string): Promise<string[]> {
    const prefix = this.base + (dir === '' ? '' : `${dir}/`);
    const names: string[] = [];
    for (const page of await this.pages(prefix, '/')) {
      for (const o of page.Contents ?? []) if (o.Key !== undefined) names.push(o.Key.slice(prefix.length));
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix !== undefined) names.push(p.Prefix.slice(prefix.length, -1));
    }
    return names;
  }

  async remove(names: readonly string[]): Promise<void> {
    await this.deleteKeys(names.map((name) => this.base + name));
  }

  async removeDir(dir: string): Promise<void> {
    await this.deleteKeys(await this.keysUnder(`${this.base}${dir}/`));
  }

  async publish(refs: readonly string[]): Promise<void> {
    // Links are shared by later checkpoints: most of a chain was uploaded at an earlier ack.
    const fresh = refs.filter((ref) => !this.stored.has(ref));
    if (fresh.length === 0) return;
    const { Upload } = await import('@aws-sdk/lib-storage');
    const client = await this.client();
    for (const ref of fresh) {
      const path = join(this.localRoot, ref);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // Neither here nor known to be stored: an ack may only name what the store holds.
        if (!(await this.exists(ref))) throw new Error(`snapshot ${ref} is neither in this process's cache nor in ${this.location}`);
        this.remember(ref);
        continue;
      }
      try {
        await new Upload({ client, params: { Bucket: this.options.bucket, Key: this.base + ref, Body: createReadStream(path), ContentLength: size }, queueSize: 2, partSize: 8 * 2 ** 20 }).done();
      } catch (err) {
        throw this.failure(err, `upload ${ref}`);
      }
      this.remember(ref);
      await rm(path, { force: true });
    }
  }

  private remember(ref: string): void {
    this.stored.add(ref);
    if (this.stored.size > storedRemembered) this.stored.delete(this.stored.values().next().value as string);
  }

  private async exists(ref: string): Promise<boolean> {
    const { HeadObjectCommand } = await sdk();
    try {
      await (await this.client()).send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.base + ref }));
      return true;
    } catch (err) {
      if (missing(err)) return false;
      throw this.failure(err, `look up ${ref}`);
    }
  }

  async fetch(refs: readonly string[]): Promise<() => Promise<void>> {
    const { GetObjectCommand } = await sdk();
    const client = await this.client();
    const downloaded: string[] = [];
    const release = async () => {
      for (const path of downloaded) await rm(path, { force: true });
    };
    try {
      for (const ref of refs) {
        const path = join(this.localRoot, ref);
        if ((await stat(path).catch(() => undefined)) !== undefined) continue; // written here and not uploaded yet
        await mkdir(dirname(path), { recursive: true });
        const temp = `${path}.download-${process.pid}-${randomUUID()}`;
        try {
          const response = await client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.base + ref }));
          await pipeline(response.Body as Readable, createWriteStream(temp));
          await rename(temp, path);
          downloaded.push(path);
          this.remember(ref);
        } catch (err) {
          await rm(temp, { force: true });
          if (missing(err)) throw new Error(`snapshot ${ref} is missing from ${this.location}`);
          throw this.failure(err, `download ${ref}`);
        }
      }
    } catch (err) {
      await release();
      throw err;
    }
    return release;
  }

  async destroy(): Promise<void> {
    await this.deleteKeys(await this.keysUnder(this.base));
    await rm(this.localRoot, { recursive: true, force: true });
  }

  private async keysUnder(prefix: string): Promise<string[]> {
    return (await this.pages(prefix)).flatMap((page) => (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key])));
  }

  private async pages(prefix: string, delimiter?: string) {
    const { paginateListObjectsV2 } = await sdk();
    const pages = [];
    try {
      for await (const page of paginateListObjectsV2({ client: await this.client() }, { Bucket: this.options.bucket, Prefix: prefix, ...(delimiter === undefined ? {} : { Delimiter: delimiter }) })) pages.push(page);
    } catch (err) {
      throw this.failure(err, `list ${prefix}`);
    }
    return pages;
  }

  /**
   * One DeleteObject per key, a few at a time. Not DeleteObjects: the SDK signs it with a CRC32
   * checksum only, which some S3-compatible servers refuse (they want Content-MD5); retention
   * deletes a checkpoint's few files at a time, so batching buys little.
   */
  private async deleteKeys(keys: readonly string[]): Promise<void> {
    const { DeleteObjectCommand } = await sdk();
    const client = await this.client();
    const queue = [...keys];
    const deleteNext = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        try {
          await client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
        } catch (err) {
          if (!missing(err)) throw this.failure(err, `delete ${key.slice(this.base.length)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, deleteNext));
  }

  /** An error that says which store and what was being done (the SDK's own often says neither). */
  private failure(err: unknown, what: string): Error {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode === undefined ? '' : ` (HTTP ${e.$metadata.httpStatusCode})`;
    return new Error(`checkpoint store ${this.location}: could not ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}${status}`, { cause: err });
  }
}

/** The object is not there (a missing bucket is not this: it is a configuration error to report). */
function missing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'NoSuchBucket') return false;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

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
}

const sdk = () => import('@aws-sdk/client-s3');

export class ObjectStoreFiles implements StoreFiles {
  private clientValue: S3Client | undefined;
  private readonly base: string;

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
    const keys: string[] = [];
    for (const page of await this.pages(`${this.base}${dir}/`)) for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    await this.deleteKeys(keys);
  }

  async publish(refs: readonly string[]): Promise<void> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    const client = await this.client();
    for (const ref of refs) {
      const path = join(this.localRoot, ref);
      // Not here: uploaded at an earlier ack (links are shared by later checkpoints), or downloaded and let go.
      const size = await stat(path).then((s) => s.size, () => undefined);
      if (size === undefined) continue;
      try {
        await new Upload({ client, params: { Bucket: this.options.bucket, Key: this.base + ref, Body: createReadStream(path), ContentLength: size }, queueSize: 2, partSize: 8 * 2 ** 20 }).done();
      } catch (err) {
        throw this.failure(err, `upload ${ref}`);
      }
      await rm(path, { force: true });
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
        const temp = `${path}.download-${process.pid}`;
        try {
          const response = await client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.base + ref }));
          await pipeline(response.Body as Readable, createWriteStream(temp));
          await rename(temp, path);
          downloaded.push(path);
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
    const keys: string[] = [];
    for (const page of await this.pages(this.base)) for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    await this.deleteKeys(keys);
    await rm(this.localRoot, { recursive: true, force: true });
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

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    const { DeleteObjectsCommand } = await sdk();
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        const response = await (await this.client()).send(new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
        const failed = (response.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw new Error(`${failed.length} objects not deleted, first ${failed[0]?.Key}: ${failed[0]?.Code} ${failed[0]?.Message ?? ''}`);
      } catch (err) {
        throw this.failure(err, `delete ${batch.length} objects`);
      }
    }
  }

  /** An error that says which store and what was being done (the SDK's own often says neither). */
  private failure(err: unknown, what: string): Error {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode === undefined ? '' : ` (HTTP ${e.$metadata.httpStatusCode})`;
    return new Error(`checkpoint store ${this.location}: could not ${what}: ${e.name ?? 'Error'}: ${e.message ?? String(err)}${status}`, { cause: err });
  }
}

function missing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

// The checkpoint store in an S3-compatible object store, against a real server the test starts
// (the Versity S3 Gateway, built by deploy/local/s3-server.ts): the store's files as objects,
// retention, uploads before acks, downloads for restores and a rescale, and a cluster whose
// processes share nothing but the object store, with a worker SIGKILLed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { Producer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { clusterRunning, type LocalCluster } from '../../deploy/local/local-cluster.ts';
import { startS3Server, type RunningS3Server } from '../../deploy/local/s3-server.ts';
import { CheckpointStore, checkpointStoreFor, manifestFormat, type TaskCheckpoint } from '../../state/checkpoint-store.ts';
import { rescaleCheckpoint } from '../../state/rescale.ts';
import { ObjectStoreFiles, type ObjectStoreOptions } from '../../state/s3-store-files.ts';
import { writeSnapshot } from '../../state/snapshot-writer.ts';
import { actorKey, offsetKey } from '../../state/store-keys.ts';
import { restoreTaskStore } from '../../state/task-store-open.ts';
import { allKeysReached, checkEosOutput, eosTopics, produceSeqs, producerFor, startEosCluster } from './eos-harness.ts';
import { readUntil, testKafka } from './support.ts';

const logger = pino({ level: 'silent' });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bucket = 'eddy-checkpoints';

describe('checkpoint store in an S3-compatible object store (a real versitygw server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-s3-'));
  let server: RunningS3Server;
  let options: ObjectStoreOptions;
  let s3: S3Client;

  beforeAll(async () => {
    server = await startS3Server(loadConfig(), logger, join(dir, 'server'));
    await server.createBucket(bucket);
    options = { bucket, prefix: 'eddy/', endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: server.credentials };
    s3 = new S3Client({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true });
  }, 300_000);
  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Keys under `prefix`, read straight from the server (not through the store under test). */
  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    return keys.sort();
  }

  /** A store as one process sees it: the object store, and a cache of its own. */
  function storeOf(job: string, process: string): CheckpointStore {
    return new CheckpointStore(new ObjectStoreFiles(options, job, join(dir, 'caches', process, job)));
  }

  /** Checkpoint `id`: one base per task holding `entries[task]`, uploaded before the manifest, as a worker's ack requires. */
  async function writeCheckpoint(store: CheckpointStore, id: number, entries: Map<string, string>[]): Promise<void> {
    const tasks: TaskCheckpoint[] = [];
    for (const [task, map] of entries.entries()) {
      const ref = store.snapshotRef(id, task, 'w1', 1);
      const sorted = [...map].map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const).sort((a, b) => Buffer.compare(a[0], b[0]));
      const written = await writeSnapshot(store.resolve(ref), { task, checkpointId: id, kind: 'base' }, [sorted]);
      await store.publish([ref]);
      tasks.push({ task, owner: 'w1', generation: 1, snapshot: ref, bytes: written.bytes, records: written.records, offsets: { in: String(id * 10) }, chain: [{ ref, checkpointId: id, kind: 'base', ...written }] });
    }
    await store.writeManifest({ format: manifestFormat, job: 'j', checkpointId: id, triggeredAtMs: 0, completedAtMs: 0, tasks });
  }

  /** Task `task` of checkpoint `id` rebuilt by `store`'s process, from downloaded objects. */
  async function readTask(store: CheckpointStore, id: number, task: number): Promise<Map<string, string>> {
    const chain = await store.chainOf(id, task);
    const release = await store.fetch(chain.map((l) => l.ref));
    const restored = await restoreTaskStore(join(dir, `restore-${Math.random().toString(36).slice(2)}`), { task, root: store.root, chain }).finally(release);
    const out = new Map<string, string>();
    const view = restored.openView();
    for await (const batch of view.batches()) for (const [k, v] of batch) out.set(decoder.decode(k), decoder.decode(v));
    await view.close();
    await restored.close();
    return out;
  }

  it('keeps manifests and snapshots as objects; another process restores from them; retention deletes what no checkpoint or fallback needs', async () => {
    const writer = storeOf('job-a', 'writer');
    const identity = await writer.identity('job-a');
    const stored = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'eddy/job-a/store.json' }))).Body!.transformToString()) as { storeId: string };
    expect(stored.storeId).toBe(identity.storeId);
    const state = (n: number) => [new Map([[actorKey('counter', 'k'), JSON.stringify({ count: n })], [offsetKey('in'), String(n)]])];
    for (const id of [1, 2, 3, 4]) await writeCheckpoint(writer, id, state(id));

    // Uploaded and let go: the writer's cache holds no snapshot once its "ack" could go out.
    expect(readdirSync(writer.root, { recursive: true }).filter((f) => String(f).endsWith('.snap'))).toEqual([]);
    expect(await writer.completed()).toEqual([4, 3, 2, 1]);
    expect(await keysUnder('eddy/job-a/manifests/')).toEqual([1, 2, 3, 4].map((id) => `eddy/job-a/manifests/chk-${id}.json`));

    // Another process, with a cache of its own, sees the same store and restores from it.
    const reader = storeOf('job-a', 'reader');
    expect((await reader.existingIdentity())?.storeId).toBe(identity.storeId);
    expect((await readTask(reader, 4, 0)).get(actorKey('counter', 'k'))).toBe(JSON.stringify({ count: 4 }));
    expect(readdirSync(reader.root, { recursive: true }).filter((f) => String(f).endsWith('.snap'))).toEqual([]); // downloads let go

    // Keep 2: manifests 1 and 2 go; checkpoint 2 stays as task 0's fallback, checkpoint 1's objects go.
    expect(await writer.retain(2)).toEqual([2, 1]);
    expect(await keysUnder('eddy/job-a/manifests/')).toEqual([3, 4].map((id) => `eddy/job-a/manifests/chk-${id}.json`));
    expect(await keysUnder('eddy/job-a/chk-1/')).toEqual([]);
    expect(await keysUnder('eddy/job-a/chk-2/')).toHaveLength(1);
    expect((await reader.fallbacks(0)).map((f) => f.checkpointId)).toEqual([2]);
    expect(await reader.offsetsOf(2, 0)).toEqual({ in: '20' });

    // A missing object is a missing link: the error says which, and where it was looked for.
    const [ref] = (await reader.chainOf(4, 0)).map((l) => l.ref);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `eddy/job-a/${ref}` }));
    await expect(readTask(reader, 4, 0)).rejects.toThrow(`snapshot ${ref} is missing from s3://${bucket}/eddy/job-a/`);
    // ... and a worker never acks a link it cannot find here or there (a process that has not seen it).
    await expect(storeOf('job-a', 'third').publish([ref!])).rejects.toThrow(`snapshot ${ref} is neither in this process's cache nor in s3://${bucket}/eddy/job-a/`);
  });

  it('reports a wrong bucket as such, fails requests to a server that stopped answering instead of hanging, and deletes caches of processes that are gone', async () => {
    const wrong = new CheckpointStore(new ObjectStoreFiles({ ...options, bucket: 'no-such-bucket' }, 'job-c', join(dir, 'caches', 'wrong')));
    await expect(wrong.completed()).rejects.toThrow(/s3:\/\/no-such-bucket\/eddy\/job-c\/: could not list .*NoSuchBucket/);
    await expect(wrong.existingIdentity()).rejects.toThrow(/could not read store\.json: NoSuchBucket/);

    const impatient = new CheckpointStore(new ObjectStoreFiles({ ...options, idleTimeoutMs: 1_000 }, 'job-c', join(dir, 'caches', 'impatient')));
    await impatient.identity('job-c');
    server.signal('SIGSTOP');
    try {
      const started = Date.now();
      await expect(impatient.writeManifest({ format: manifestFormat, job: 'j', checkpointId: 1, triggeredAtMs: 0, completedAtMs: 0, tasks: [] })).rejects.toThrow(/could not write manifests\/chk-1\.json/);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      server.signal('SIGCONT');
    }

    const checkpointDir = join(dir, 'process-caches');
    const gone = join(checkpointDir, '.cache', 'worker-9.999999'); // no such pid
    const alive = join(checkpointDir, '.cache', `worker-8.${process.pid}`);
    for (const d of [gone, alive]) mkdirSync(join(d, 'job-d', 'chk-1'), { recursive: true });
    const store = checkpointStoreFor(checkpointDir, 'job-d', { options, process: 'worker-1' });
    expect(store.root).toBe(join(checkpointDir, '.cache', `worker-1.${process.pid}`, 'job-d'));
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(alive)).toBe(true);
  }, 60_000);

  it('re-shards a checkpoint into more tasks through the object store (downloads the old chains, uploads the new bases)', async () => {
    const writer = storeOf('job-b', 'writer');
    await writer.identity('job-b');
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    const { keyPartitioner } = await import('../../common/partitioner.ts');
    const partitionOf = keyPartitioner('', 2);
    const entries = [new Map<string, string>(), new Map<string, string>()];
    for (const key of keys) entries[partitionOf(key)]!.set(actorKey('counter', key), JSON.stringify({ count: key.length }));
    await writeCheckpoint(writer, 1, entries);

    const coordinator = storeOf('job-b', 'coordinator');
    const manifest = await rescaleCheckpoint({ store: coordinator, from: await coordinator.readManifest(1), taskCount: 4, checkpointId: 2, workDir: join(dir, 'rescale-work'), logger });
    expect(manifest.tasks).toHaveLength(4);
    expect(await keysUnder('eddy/job-b/chk-2/')).toHaveLength(4);
    expect(await coordinator.wasRescaled()).toBe(true);

    const reader = storeOf('job-b', 'reader');
    const newPartition = keyPartitioner('', 4);
    const seen = new Set<string>();
    for (let task = 0; task < 4; task++) {
      for (const key of (await readTask(reader, 2, task)).keys()) {
        const name = key.slice(key.lastIndexOf('k'));
        if (!name.startsWith('key-')) continue;
        expect(newPartition(name)).toBe(task);
        seen.add(name);
      }
    }
    expect([...seen].sort()).toEqual([...keys].sort());
  });

  describe('a cluster whose processes share only the object store', () => {
    const kafka = testKafka();
    const topics = eosTopics();
    let cluster: LocalCluster | undefined;
    let producer: Producer;
    let clusterDir: string;
    const secretFile = join(dir, 's3-secret');

    beforeAll(async () => {
      writeFileSync(secretFile, server.credentials.secretAccessKey, { mode: 0o600 });
      const configFile = join(dir, 'eddy.yaml');
      writeFileSync(configFile, [
        'checkpoint:',
        '  intervalMs: 500',
        '  s3:',
        `    bucket: ${bucket}`,
        '    prefix: cluster/',
        `    endpoint: ${server.endpoint}`,
        `    accessKeyId: ${server.credentials.accessKeyId}`,
        `    secretAccessKeyFile: ${secretFile}`,
        '',
      ].join('\n'));
      clusterDir = mkdtempSync(join(tmpdir(), 'eddy-s3-cluster-'));
      cluster = await startEosCluster(topics, 3, clusterDir, { EDDY_CONFIG: configFile });
      await cluster.waitUntilRunning(120_000);
      producer = producerFor(kafka);
      await producer.connect();
    }, 180_000);
    afterAll(async () => {
      await producer?.disconnect();
      await cluster?.stop();
      rmSync(clusterDir, { recursive: true, force: true });
    });

    it('restores a SIGKILLed worker\'s tasks on the survivors from the object store, losing and doubling nothing', async () => {
      const keys = Array.from({ length: 120 }, (_, i) => `s3-${i}`);
      await produceSeqs(producer, topics.input, keys, 1, 10);
      await readUntil(kafka, { topics: [topics.output], timeoutMs: 60_000, done: (r) => allKeysReached(r, keys, 10) });
      const job = `eos-check.${topics.prefix}`;
      // Checkpoints complete in the object store, taken after the state above exists.
      const deadline = Date.now() + 30_000;
      while ((await keysUnder(`cluster/${job}/manifests/`)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      expect((await keysUnder(`cluster/${job}/manifests/`)).length).toBeGreaterThanOrEqual(2);

      const producing = (async () => {
        for (let seq = 11; seq <= 30; seq++) {
          await produceSeqs(producer, topics.input, keys, seq, seq);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await new Promise((r) => setTimeout(r, 500));
      await cluster!.kill('worker-2', 'SIGKILL');
      await cluster!.waitUntilRunning(30_000, 2);
      await producing;
      const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 90_000, done: (r) => allKeysReached(r, keys, 30) });
      const check = checkEosOutput(outputs.filter((r) => r.key?.toString().startsWith('s3-')), keys, 30);
      expect({ lost: check.lost, duplicated: check.duplicated, wrongCounts: check.wrongCounts }).toEqual({ lost: 0, duplicated: 0, wrongCounts: 0 });

      // The store is the object store: locally only the processes' caches, no store files.
      expect(readdirSync(clusterDir)).not.toContain(job);
      expect(readdirSync(join(clusterDir, 'checkpoints'))).toEqual(['.cache']);
      const logs = join(clusterDir, 'logs');
      // worker-2's tasks ran again on the survivors from a checkpoint, which only the object store had.
      const restored = readdirSync(logs).filter((f) => f !== 'worker-2.log' && f.startsWith('worker-'))
        .flatMap((f) => readFileSync(join(logs, f), 'utf8').split('\n'))
        .flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as { msg?: string; restoredFrom?: number }] : []))
        .filter((entry) => entry.msg === 'task running' && (entry.restoredFrom ?? 0) > 0);
      expect(restored.length).toBeGreaterThan(0);
      for (const f of readdirSync(logs)) expect(readFileSync(join(logs, f), 'utf8')).not.toContain(server.credentials.secretAccessKey);
    }, 240_000);

    it('rides out the object store going away: checkpoints fail while it is down and complete again after, nothing lost or doubled', async () => {
      const keys = Array.from({ length: 80 }, (_, i) => `outage-${i}`);
      const checkpoints = async () => (await (await fetch(`${cluster!.adminUrl}/api/v1/checkpoints`)).json()) as { latestCompleted: number; recent: { id: number; state: string; reason?: string }[] };
      await produceSeqs(producer, topics.input, keys, 1, 5);
      server.kill(); // SIGKILL: uploads and manifest writes fail until it is back
      const before = (await checkpoints()).latestCompleted;
      for (let seq = 6; seq <= 15; seq++) {
        await produceSeqs(producer, topics.input, keys, seq, seq);
        await new Promise((r) => setTimeout(r, 200));
      }
      const during = await checkpoints();
      expect(during.recent.some((c) => c.state === 'abandoned')).toBe(true);
      expect(during.latestCompleted).toBeLessThanOrEqual(before + 1); // at most one already past its uploads
      await server.restart();
      await produceSeqs(producer, topics.input, keys, 16, 20);
      const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 90_000, done: (r) => allKeysReached(r, keys, 20) });
      const check = checkEosOutput(outputs.filter((r) => r.key?.toString().startsWith('outage-')), keys, 20);
      expect({ lost: check.lost, duplicated: check.duplicated, wrongCounts: check.wrongCounts }).toEqual({ lost: 0, duplicated: 0, wrongCounts: 0 });
      expect((await checkpoints()).latestCompleted).toBeGreaterThan(during.latestCompleted);
      expect(clusterRunning((await cluster!.view())!, 2)).toBe(true);
    }, 240_000);
  });
});

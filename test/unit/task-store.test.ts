import { access, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SnapshotCorruptError, writeSnapshot } from '../../state/snapshot-format.ts';
import { createTaskStore, restoreTaskStore } from '../../state/task-store-open.ts';
import { TaskStore, TaskStoreLockedError, type FlushBatch, type RawEntry } from '../../state/task-store.ts';
import { bufferKey, parseBufferKey, timerKey, type StoredTimer } from '../../state/store-keys.ts';
import { batchesOf, streamOf, tempDir } from './task-harness.ts';

const timer = (timestampMs: number, key = 'k', tag = ''): StoredTimer => ({ kind: 'event-time', timestampMs, actor: 'a', key, tag });

function flush(overrides: Partial<FlushBatch> = {}): FlushBatch {
  return { actors: [], promoteEvicted: [], dropEvicted: [], timerPuts: [], timerDels: [], watermark: { watermarkMs: null, sources: {} }, offsets: {}, ...overrides };
}

describe('TaskStore', () => {
  it('commits a flush and reads it back after reopening', async () => {
    const dir = join(await tempDir(), 'task-0');
    const store = await TaskStore.open(dir);
    await store.commit(
      flush({
        actors: [{ actor: 'a', key: 'k\x00nul', json: '{"n":1}' }],
        timerPuts: [timer(20), timer(3), timer(10_000_000_000_000, 'z')],
        watermark: { watermarkMs: 7, sources: { s: { maxEventMs: 9, lastSeenMs: 100 } } },
        offsets: { t1: '18446744073709551616' },
      }),
    );
    await store.close();
    const reopened = await TaskStore.open(dir);
    expect(await reopened.readActor('a', 'k\x00nul', false)).toBe('{"n":1}');
    expect(await reopened.readActor('a', 'k', false)).toBeUndefined();
    expect((await reopened.readTimers()).map((t) => t.timestampMs)).toEqual([3, 20, 10_000_000_000_000]);
    expect(await reopened.readOffsets()).toEqual({ t1: '18446744073709551616' });
    expect(await reopened.readWatermark()).toEqual({ watermarkMs: 7, sources: { s: { maxEventMs: 9, lastSeenMs: 100 } } });
    await reopened.close();
  });

  it('keeps timer keys distinct and in time order whatever the key and tag hold', () => {
    expect(timerKey(timer(1, 'a\x00b', 'c'))).not.toBe(timerKey(timer(1, 'a', 'b\x00c')));
    expect(timerKey(timer(9)) < timerKey(timer(10))).toBe(true);
  });

  it('moves eviction entries to state entries at the next flush, and drops them when reopened without one', async () => {
    const dir = join(await tempDir(), 'task-0');
    const store = await TaskStore.open(dir);
    await store.writeEvicted('a', 'kept', '{"n":2}');
    await store.writeEvicted('a', 'lost', '{"n":3}');
    await store.commit(flush({ promoteEvicted: [{ actor: 'a', key: 'kept' }], dropEvicted: [{ actor: 'a', key: 'kept' }] }));
    expect(await store.readActor('a', 'kept', false)).toBe('{"n":2}');
    expect(await store.readActor('a', 'kept', true)).toBeUndefined();
    await store.close();
    const reopened = await TaskStore.open(dir);
    expect(await reopened.readActor('a', 'lost', true)).toBeUndefined();
    await reopened.close();
  });

  it('waits for a locked directory to be released', async () => {
    const dir = join(await tempDir(), 'task-0');
    const first = await TaskStore.open(dir);
    const second = TaskStore.open(dir, { lockWaitMs: 5_000 });
    setTimeout(() => void first.close(), 200);
    await (await second).close();
  });

  it('names the directory when it stays locked', async () => {
    const dir = join(await tempDir(), 'task-0');
    const first = await TaskStore.open(dir);
    const error = await TaskStore.open(dir, { lockWaitMs: 150 }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TaskStoreLockedError);
    expect((error as Error).message).toContain(dir);
    await first.close();
  });

  it('hands the buffered outputs a snapshot brought over in epoch, then emission order, once', async () => {
    const store = await TaskStore.open(join(await tempDir(), 'task-0'));
    const entry = (epoch: number, seq: number) => ({ epoch, seq, json: `${epoch}/${seq}` });
    const raw = (e: ReturnType<typeof entry>): RawEntry => [Buffer.from(bufferKey(e)), Buffer.from(e.json)];
    const loaded = [entry(9, 12), entry(10, 3), entry(10, 4)].map(raw).concat([[Buffer.from('w'), Buffer.from('{"watermarkMs":null,"sources":{}}')]]);
    await store.load(streamOf(loaded));
    expect(await store.takeBuffer()).toEqual([entry(9, 12), entry(10, 3), entry(10, 4)]);
    expect(await store.takeBuffer()).toEqual([]);
    expect(await store.readWatermark()).toEqual({ watermarkMs: null, sources: {} });
    expect(parseBufferKey(bufferKey({ epoch: 123, seq: 4 }))).toEqual({ epoch: 123, seq: 4 });
    await store.close();
  });

  it('leaves eviction entries out of a view, and later writes too', async () => {
    const store = await TaskStore.open(join(await tempDir(), 'task-0'));
    await store.commit(flush({ actors: [{ actor: 'a', key: 'k', json: '1' }], offsets: { t: '5' } }));
    await store.writeEvicted('a', 'gone', '2');
    const view = store.openView();
    await store.commit(flush({ actors: [{ actor: 'a', key: 'later', json: '3' }] }));
    const keys: string[] = [];
    for await (const batch of view.batches()) for (const [key] of batch) keys.push(Buffer.from(key).toString('latin1'));
    await view.close();
    expect(keys).toEqual(['a\x00a\x00k', 'o\x00t', 'w']);
    await store.close();
  });

  it('creates a store on a wiped directory, after the previous owner let go', async () => {
    const dir = join(await tempDir(), 'task-0');
    const old = await TaskStore.open(dir);
    await old.commit(flush({ offsets: { t: '9' } }));
    const fresh = createTaskStore(dir, { lockWaitMs: 5_000 });
    setTimeout(() => void old.close(), 100);
    const store = await fresh;
    expect(await store.readOffsets()).toEqual({});
    await store.close();
  });

  it('rebuilds a store from a snapshot, and leaves the directory wiped when the snapshot is bad', async () => {
    const root = await tempDir();
    const path = join(root, '4.snap');
    const entries: RawEntry[] = [[Buffer.from('o\x00t'), Buffer.from('42')], [Buffer.from('w'), Buffer.from('{"watermarkMs":7,"sources":{}}')]];
    await writeSnapshot(path, { task: 0, checkpointId: 4 }, batchesOf(entries));
    const dir = join(root, 'task-0');
    const chain = (checkpointId: number) => [{ ref: '4.snap', checkpointId, kind: 'base' as const, bytes: 0, records: 0 }];
    const store = await restoreTaskStore(dir, { task: 0, root, chain: chain(4) });
    expect(await store.readOffsets()).toEqual({ t: '42' });
    expect(await store.readWatermark()).toEqual({ watermarkMs: 7, sources: {} });
    await store.close();

    await expect(restoreTaskStore(dir, { task: 0, root, chain: chain(5) })).rejects.toBeInstanceOf(SnapshotCorruptError);
    await expect(access(dir)).rejects.toThrow(/ENOENT/);
    await truncate(path, 40);
    await expect(restoreTaskStore(dir, { task: 0, root, chain: chain(4) })).rejects.toThrow(/4\.snap is corrupt/);
    await expect(access(dir)).rejects.toThrow(/ENOENT/);
  });
});

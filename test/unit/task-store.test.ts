import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskStore, TaskStoreLockedError, type FlushBatch } from '../../state/task-store.ts';
import { timerKey, type StoredTimer } from '../../state/store-keys.ts';
import { tempDir } from './task-harness.ts';

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
});

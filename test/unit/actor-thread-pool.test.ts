import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { EOS_TOPICS } from '../../worker/jobs/eos-check.ts';
import type { ActorThreadData, ThreadRequest, ThreadResponse } from '../../worker/thread-protocol.ts';
import { record, tempDir, values } from './task-harness.ts';

const pools: Piscina[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

function actorThread(jobRef: string): (request: ThreadRequest) => Promise<ThreadResponse> {
  const workerData: ActorThreadData = { jobRef };
  const pool = new Piscina({
    filename: new URL('../../worker/actor-thread-entry.mjs', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    stricterFIFO: true,
    workerData,
  });
  pools.push(pool);
  return (request) => pool.run(request) as Promise<ThreadResponse>;
}

const input = (offset: number, key: string, seq: number) => record(EOS_TOPICS.input, offset, { key, seq }, { partition: 3, keyText: key });

describe('actor thread (real piscina pool)', () => {
  it('opens a task, handles records, flushes and closes, then reopens it where it left off', async () => {
    const run = actorThread('eos-check');
    const dataDir = await tempDir();
    expect(await run({ type: 'open', task: 3, dataDir })).toEqual({ type: 'opened', task: 3, offsets: {} });

    const processed = await run({ type: 'records', task: 3, records: [input(0, 'a', 1), input(1, 'a', 2)], nowMs: 0 });
    expect(processed.type).toBe('processed');
    if (processed.type !== 'processed') return;
    expect(values(processed.outputs)).toEqual([
      { key: 'a', seq: 1, count: 1 },
      { key: 'a', seq: 2, count: 2 },
    ]);
    expect(processed.deadLetters).toEqual([]);
    expect(processed.stats).toEqual({ actorsActive: 1, timersPending: 0, watermarkMs: 1_000 });
    expect(processed.timerFailures).toBeUndefined();

    expect(await run({ type: 'tick', task: 3, nowMs: 10 })).toMatchObject({ type: 'processed', outputs: [] });
    expect(await run({ type: 'flush', task: 3 })).toEqual({ type: 'flushed', task: 3, offsets: { [EOS_TOPICS.input]: '2' } });
    expect(await run({ type: 'close', task: 3 })).toEqual({ type: 'closed', task: 3 });

    expect(await run({ type: 'open', task: 3, dataDir })).toEqual({ type: 'opened', task: 3, offsets: { [EOS_TOPICS.input]: '2' } });
    const again = await run({ type: 'records', task: 3, records: [input(2, 'a', 3)], nowMs: 0 });
    expect(again.type === 'processed' && values(again.outputs)).toEqual([{ key: 'a', seq: 3, count: 3 }]);
    await run({ type: 'close', task: 3 });
  });

  it('rejects records for a task that is not open, and a second open', async () => {
    const run = actorThread('eos-check');
    const dataDir = await tempDir();
    await expect(run({ type: 'records', task: 1, records: [], nowMs: 0 })).rejects.toThrow(/task 1 is not open/);
    await run({ type: 'open', task: 1, dataDir });
    await expect(run({ type: 'open', task: 1, dataDir })).rejects.toThrow(/already open/);
    await run({ type: 'close', task: 1 });
  });
});

import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it } from 'vitest';
import { EOS_TOPICS } from '../../examples/eos-check/job.ts';
import type { ActorThreadData, SnapshotResult, ThreadRequest, ThreadResponse } from '../../worker/thread-protocol.ts';
import { bufferedOutputs, record, snapshotTarget, tempDir, values } from './task-harness.ts';

const pools: Piscina[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

type Run = <T extends ThreadResponse['type']>(request: ThreadRequest) => Promise<Extract<ThreadResponse, { type: T }>>;

/** One actor thread, as the worker runs it (worker/actor-threads.ts): a one-thread piscina pool, strict FIFO, no Atomics parking. */
function actorThread(jobRef: string): Run {
  const workerData: ActorThreadData = { jobRef };
  const pool = new Piscina({
    filename: new URL('../../worker/actor-thread-entry.mjs', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1,
    stricterFIFO: true,
    atomics: 'disabled', // else the idle thread blocks in Atomics.wait and background snapshots stall
    workerData,
  });
  pools.push(pool);
  return (request) => {
    const transferList = request.type === 'barrier' ? [request.done] : undefined;
    return pool.run(request, transferList === undefined ? {} : { transferList }) as never;
  };
}

/** Sends barrier `checkpointId`; returns its answer and the snapshot result to come. */
async function barrier(run: Run, task: number, checkpointId: number, dataDir: string) {
  const target = snapshotTarget(dataDir, checkpointId, task);
  const { port1, port2 } = new MessageChannel();
  const result = once(port1, 'message').then(([message]) => {
    port1.close();
    return message as SnapshotResult;
  });
  const taken = await run<'barrier-taken'>({ type: 'barrier', task, checkpointId, target, done: port2 });
  return { taken, snapshot: result };
}

const input = (offset: number, key: string, seq: number) => record(EOS_TOPICS.input, offset, { key, seq }, { partition: 3, keyText: key });
const bigStateJob = fileURLToPath(new URL('./big-state-job.ts', import.meta.url));
const big = (offset: number, key: string, bytes: number) => record('big-state.input', offset, { key, bytes }, { partition: 0 });

describe('actor thread (real piscina pool)', () => {
  it('opens fresh, buffers outputs, takes a barrier, publishes, closes, and restores from the snapshot', async () => {
    const run = actorThread('eos-check');
    const dataDir = await tempDir();
    expect(await run({ type: 'open', task: 3, dataDir, restore: null })).toEqual({ type: 'opened', task: 3, offsets: {}, restoredFrom: 0 });

    const processed = await run<'processed'>({ type: 'records', task: 3, records: [input(0, 'a', 1), input(1, 'a', 2)], nowMs: 0 });
    expect(processed).toMatchObject({ type: 'processed', outputs: [], deadLetters: [] }); // eos-check's sink is exactly-once
    expect(processed.stats).toEqual({ actorsActive: 1, pendingOutputs: 2, timersPending: 0, watermarkMs: 1_000 });
    expect(processed.timerFailures).toBeUndefined();
    expect(await run({ type: 'tick', task: 3, nowMs: 10 })).toMatchObject({ type: 'processed', outputs: [] });

    const { taken, snapshot } = await barrier(run, 3, 1, dataDir);
    expect(taken).toEqual({ type: 'barrier-taken', task: 3, checkpointId: 1, offsets: { [EOS_TOPICS.input]: '2' } });
    const written = await snapshot;
    expect(written).toMatchObject({ type: 'snapshot-written', checkpointId: 1, records: 5 }); // actor, 2 outputs, offset, watermark
    const chain = written.type === 'snapshot-written' ? written.chain : [];
    const committed = await run<'committed-outputs'>({ type: 'committed-outputs', task: 3, checkpointId: 1 });
    expect(committed.outputs.map((item) => item.epoch)).toEqual([1, 1]);
    expect(values(bufferedOutputs(committed.outputs))).toEqual([
      { key: 'a', seq: 1, count: 1 },
      { key: 'a', seq: 2, count: 2 },
    ]);
    expect(await run({ type: 'outputs-published', task: 3, checkpointId: 1 })).toEqual({ type: 'outputs-published', task: 3, checkpointId: 1 });
    expect(await run({ type: 'committed-outputs', task: 3, checkpointId: 1 })).toMatchObject({ outputs: [] });
    await run({ type: 'records', task: 3, records: [input(2, 'a', 3)], nowMs: 0 }); // after the barrier: lost with the close
    expect(await run({ type: 'close', task: 3 })).toEqual({ type: 'closed', task: 3 });

    const reopened = await run({ type: 'open', task: 3, dataDir, restore: { checkpointId: 1, root: join(dataDir, 'checkpoints'), chain } });
    expect(reopened).toEqual({ type: 'opened', task: 3, offsets: { [EOS_TOPICS.input]: '2' }, restoredFrom: 1 });
    expect((await run<'committed-outputs'>({ type: 'committed-outputs', task: 3, checkpointId: 1 })).outputs).toHaveLength(2); // the snapshot predates the publish
    const again = await run<'processed'>({ type: 'records', task: 3, records: [input(2, 'a', 3)], nowMs: 0 });
    expect(again.stats.pendingOutputs).toBe(3);
    await run({ type: 'close', task: 3 });
  });

  it('handles requests while a big snapshot is written, and fails a snapshot cut short by close', async () => {
    const run = actorThread(bigStateJob);
    const dataDir = await tempDir();
    await run({ type: 'open', task: 0, dataDir, restore: null });
    await run({ type: 'records', task: 0, records: Array.from({ length: 2_000 }, (_, i) => big(i, `k${i}`, 10_000)), nowMs: 0 }); // ~20 MB of state
    const events: string[] = [];
    const first = await barrier(run, 0, 1, dataDir);
    void first.snapshot.then(() => events.push('snapshot 1'));
    await run({ type: 'records', task: 0, records: [big(2_000, 'late', 10)], nowMs: 0 });
    events.push('records');
    const second = await barrier(run, 0, 2, dataDir);
    events.push('barrier 2');
    expect(await first.snapshot).toMatchObject({ type: 'snapshot-written', checkpointId: 1 });
    const secondWritten = await second.snapshot;
    // A delta: the late actor and the offset (the watermark did not move), and the late output (the 2,000 before it are in the base).
    expect(secondWritten).toMatchObject({ type: 'snapshot-written', checkpointId: 2, records: 3 });
    expect(events).toEqual(['records', 'barrier 2', 'snapshot 1']);
    const chain = secondWritten.type === 'snapshot-written' ? secondWritten.chain : [];
    expect(chain.map(({ kind, checkpointId }) => `${kind} ${checkpointId}`)).toEqual(['base 1', 'delta 2']);

    // Every key changes again: a delta as big as the base, cut short by the close.
    await run({ type: 'records', task: 0, records: Array.from({ length: 2_000 }, (_, i) => big(2_001 + i, `k${i}`, 10_000)), nowMs: 0 });
    const third = await barrier(run, 0, 3, dataDir);
    expect(await run({ type: 'close', task: 0 })).toEqual({ type: 'closed', task: 0 });
    expect(await third.snapshot).toEqual({ type: 'snapshot-failed', checkpointId: 3, reason: 'task closed' });
    const reopened = await run({ type: 'open', task: 0, dataDir, restore: { checkpointId: 2, root: join(dataDir, 'checkpoints'), chain } }); // the thread lives on
    expect(reopened).toMatchObject({ offsets: { 'big-state.input': '2001' }, restoredFrom: 2 });
    await run({ type: 'close', task: 0 });
   }, 30_000);

  it('refuses a corrupt snapshot, naming it, and leaves the task closed', async () => {
    const run = actorThread('eos-check');
    const dataDir = await tempDir();
    const snapshotPath = join(dataDir, 'missing.snap');
    const chain = [{ ref: 'missing.snap', checkpointId: 4, kind: 'base' as const, bytes: 100, records: 1 }];
    await expect(run({ type: 'open', task: 1, dataDir, restore: { checkpointId: 4, root: dataDir, chain } })).rejects.toThrow(`snapshot ${snapshotPath} is corrupt at header/footer: missing file`);
    await expect(run({ type: 'records', task: 1, records: [], nowMs: 0 })).rejects.toThrow(/task 1 is not open/);
  });

  it('rejects records for a task that is not open, and a second open', async () => {
    const run = actorThread('eos-check');
    const dataDir = await tempDir();
    await expect(run({ type: 'records', task: 1, records: [], nowMs: 0 })).rejects.toThrow(/task 1 is not open/);
    await run({ type: 'open', task: 1, dataDir, restore: null });
    await expect(run({ type: 'open', task: 1, dataDir, restore: null })).rejects.toThrow(/already open/);
    await run({ type: 'close', task: 1 });
  });
});

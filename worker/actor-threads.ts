/**
 * The worker's actor threads: `count` piscina pools of exactly one thread each, so a task is
 * pinned to one thread (task t runs on pool t mod count) and its state never leaves it.
 * piscina 5 reorders a pool's queue unless `stricterFIFO` is set; it is. By default piscina
 * parks an idle thread in a blocking `Atomics.wait`, which freezes its event loop between
 * requests and so would stall a barrier's background snapshot; `atomics: 'disabled'` keeps
 * the loop running (requests then arrive as plain messages). If a thread dies,
 * piscina starts a fresh one with empty memory: the pending call rejects and the task must be
 * restored, never silently continued (TaskRunner fails the task).
 */
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { ActorThreadData, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

const entry = new URL('./actor-thread-entry.mjs', import.meta.url).href;

export class ActorThreads {
  private readonly pools: Piscina<ThreadRequest, ThreadResponse>[];

  constructor(readonly count: number, data: ActorThreadData) {
    this.pools = Array.from(
      { length: count },
      () =>
        new Piscina<ThreadRequest, ThreadResponse>({
          filename: entry,
          minThreads: 1,
          maxThreads: 1,
          concurrentTasksPerWorker: 1,
          stricterFIFO: true,
          atomics: 'disabled',
          idleTimeout: Number.POSITIVE_INFINITY,
          workerData: data,
        }),
    );
  }

  /** Runs one request of `task` on its thread. Requests of one task must be sent one at a time. */
  run(task: number, request: ThreadRequest, transferList?: MessagePort[]): Promise<ThreadResponse> {
    const pool = this.pools[task % this.count];
    if (pool === undefined) throw new Error(`no actor thread for task ${task}`);
    return transferList === undefined ? pool.run(request) : pool.run(request, { transferList });
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.destroy()));
  }
}

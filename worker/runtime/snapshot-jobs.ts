/**
 * The asynchronous half of a barrier: streaming the LevelDB view a barrier opened into the
 * snapshot file while the task goes on handling requests. A task may have several in flight
 * (one per barrier). Each ends in a SnapshotResult and never rejects: a failed snapshot only
 * declines its checkpoint. Closing the task aborts those in flight (`snapshot-failed`, reason
 * {@link TASK_CLOSED}) and waits for them to let go of the store.
 */
import { ensureError } from '../../common/errors.ts';
import { writeSnapshot, type SnapshotHeader } from '../../state/snapshot-format.ts';
import type { DbView, RawEntry } from '../../state/task-store.ts';
import type { SnapshotResult } from '../thread-protocol.ts';

/** The reason of a snapshot cut short because its task closed. */
export const TASK_CLOSED = 'task closed';

type Job = { controller: AbortController; done: Promise<SnapshotResult> };

export class SnapshotJobs {
  private readonly running = new Set<Job>();

  /** @param nowMs a monotonic clock in ms, for `durationMs` */
  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** Snapshots in flight. */
  get size(): number {
    return this.running.size;
  }

  /**
   * Starts writing `view`, merged with `extra` (entries in key order whose keys are not in the
   * view), to `path`; the view is closed when the job ends.
   */
  start(view: DbView, extra: readonly RawEntry[], header: SnapshotHeader, path: string): Promise<SnapshotResult> {
    const controller = new AbortController();
    const job: Job = { controller, done: this.write(view, extra, header, path, controller.signal) };
    this.running.add(job);
    void job.done.then(() => this.running.delete(job));
    return job.done;
  }

  /** Aborts every snapshot in flight and waits until they have ended. */
  async abortAll(): Promise<void> {
    const jobs = [...this.running];
    for (const { controller } of jobs) controller.abort();
    await Promise.all(jobs.map(({ done }) => done));
  }

  private async write(view: DbView, extra: readonly RawEntry[], header: SnapshotHeader, path: string, signal: AbortSignal): Promise<SnapshotResult> {
    const { checkpointId } = header;
    const startedMs = this.nowMs();
    try {
      let written;
      try {
        written = await writeSnapshot(path, header, abortable(mergeSorted(view.batches(), extra), signal));
      } finally {
        await view.close();
      }
      return { type: 'snapshot-written', checkpointId, ...written, durationMs: this.nowMs() - startedMs };
    } catch (thrown) {
      return { type: 'snapshot-failed', checkpointId, reason: signal.aborted ? TASK_CLOSED : ensureError(thrown).message };
    }
  }
}

async function* abortable<T>(batches: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  signal.throwIfAborted();
  for await (const batch of batches) {
    signal.throwIfAborted();
    yield batch;
  }
  signal.throwIfAborted();
}

/** Batches of `batches` (ascending keys) with `extra` (ascending keys, none shared) merged in. */
export async function* mergeSorted(batches: AsyncIterable<readonly RawEntry[]>, extra: readonly RawEntry[]): AsyncGenerator<RawEntry[]> {
  let next = 0;
  for await (const batch of batches) {
    const merged: RawEntry[] = [];
    for (const entry of batch) {
      while (next < extra.length && Buffer.compare(extra[next]![0], entry[0]) < 0) merged.push(extra[next++]!);
      merged.push(entry);
    }
    yield merged;
  }
  if (next < extra.length) yield extra.slice(next);
}

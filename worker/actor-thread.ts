/**
 * The code of an actor thread (one piscina worker). It loads the job once and keeps the
 * TaskRuntime of every task assigned to this thread; the main thread sends each task's
 * requests one at a time, in order, so nothing else touches a task's state. A barrier answers
 * as soon as its batch is written and its LevelDB view opened; the snapshot goes on in the
 * background and reports on the barrier's `done` port. Piscina loads this file through
 * actor-thread-entry.mjs, which teaches the thread's Node to import TypeScript.
 */
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import { IllegalStateError } from '../common/errors.ts';
import { createTaskStore, restoreTaskStore } from '../state/task-store-open.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import { loadJob } from '../job/load.ts';
import { TaskRuntime, type ProcessResult, type TaskRuntimeOptions } from './runtime/task-runtime.ts';
import type { ActorThreadData, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

type Request<T extends ThreadRequest['type']> = Extract<ThreadRequest, { type: T }>;

const runtimes = new Map<number, TaskRuntime>();
// Loaded as the thread starts, while the worker connects and waits for its assignment, rather
// than when its first task opens; a job that fails to load fails that open.
const job: Promise<JobDefinition> = loadJob(threadData().jobRef);
job.catch(() => undefined);

function threadData(): ActorThreadData {
  const data = workerData as Partial<ActorThreadData> | null;
  if (typeof data?.jobRef !== 'string') throw new IllegalStateError('actor thread started without workerData.jobRef');
  return { jobRef: data.jobRef };
}

function runtimeOf(task: number, request: ThreadRequest['type']): TaskRuntime {
  const runtime = runtimes.get(task);
  if (runtime === undefined) throw new IllegalStateError(`task ${task} is not open on this thread; got ${request}`);
  return runtime;
}

/** Wipes the task's directory, rebuilds it from the snapshot if there is one, and opens the runtime on it. */
async function open({ task, dataDir, restore, taskCount, compaction }: Request<'open'>): Promise<ThreadResponse> {
  if (runtimes.has(task)) throw new IllegalStateError(`task ${task} is already open on this thread`);
  const definition = await job;
  const dir = join(dataDir, `task-${task}`);
  const store = restore === null ? await createTaskStore(dir) : await restoreTaskStore(dir, { task, root: restore.root, chain: restore.chain });
  const restoredFrom = restore?.checkpointId ?? 0;
  try {
    const options: TaskRuntimeOptions = { restoredFrom, restoredChain: restore?.chain ?? [] };
    if (taskCount !== undefined) options.taskCount = taskCount;
    if (compaction !== undefined) options.compaction = compaction;
    const runtime = await TaskRuntime.open(definition, task, store, options);
    runtimes.set(task, runtime);
    return { type: 'opened', task, offsets: runtime.offsets(), restoredFrom };
  } catch (thrown) {
    await store.close();
    throw thrown;
  }
}

/** Takes the barrier; the snapshot's result goes to `done` later, and then the port is closed. */
async function barrier({ task, checkpointId, target, done }: Request<'barrier'>): Promise<ThreadResponse> {
  let taken;
  try {
    taken = await runtimeOf(task, 'barrier').barrier(checkpointId, target);
  } catch (thrown) {
    done.close();
    throw thrown;
  }
  void taken.snapshot.then((result) => {
    done.postMessage(result);
    done.close();
  });
  return { type: 'barrier-taken', task, checkpointId, offsets: taken.offsets };
}

async function close(task: number): Promise<ThreadResponse> {
  const runtime = runtimeOf(task, 'close');
  runtimes.delete(task);
  await runtime.close();
  return { type: 'closed', task };
}

function processed(task: number, result: ProcessResult): ThreadResponse {
  const { outputs, deadLetters, stats, timerFailures, counts } = result;
  const response: Extract<ThreadResponse, { type: 'processed' }> = { type: 'processed', task, outputs, deadLetters, stats };
  if (timerFailures.length > 0) response.timerFailures = timerFailures;
  if (Object.keys(counts).length > 0) response.counts = counts;
  return response;
}

/** Handles one request of the main thread (piscina's task function). */
export default async function handle(request: ThreadRequest): Promise<ThreadResponse> {
  const { task } = request;
  switch (request.type) {
    case 'open':
      return open(request);
    case 'records':
      return processed(task, await runtimeOf(task, 'records').process(request.records, request.nowMs));
    case 'tick':
      return processed(task, await runtimeOf(task, 'tick').tick(request.nowMs));
    case 'barrier':
      return barrier(request);
    case 'committed-outputs': {
      const runtime = runtimeOf(task, 'committed-outputs');
      const outputs = runtime.committedOutputs(request.checkpointId);
      const progress = runtime.progress(request.checkpointId);
      return Object.keys(progress).length === 0 ? { type: 'committed-outputs', task, checkpointId: request.checkpointId, outputs } : { type: 'committed-outputs', task, checkpointId: request.checkpointId, outputs, progress };
    }
    case 'outputs-published':
      runtimeOf(task, 'outputs-published').outputsPublished(request.checkpointId);
      return { type: 'outputs-published', task, checkpointId: request.checkpointId };
    case 'discard-replayed':
      return { type: 'replayed-discarded', task, discarded: runtimeOf(task, 'discard-replayed').discardUnsealed(request.publishedThrough) };
    case 'close':
      return close(task);
    default:
      throw new IllegalStateError(`unknown thread request ${JSON.stringify(request satisfies never)}`);
  }
}

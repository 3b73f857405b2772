/**
 * The code of an actor thread (one piscina worker). It loads the job once and keeps the
 * TaskRuntime of every task assigned to this thread; the main thread sends each task's
 * requests one at a time, in order, so nothing else touches a task's state. Piscina loads it
 * through actor-thread-entry.mjs, which teaches the thread's Node to import TypeScript.
 */
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import { IllegalStateError } from '../common/errors.ts';
import { TaskStore } from '../state/task-store.ts';
import type { JobDefinition } from './job/api.ts';
import { loadJob } from './job/load.ts';
import { TaskRuntime, type ProcessResult } from './runtime/task-runtime.ts';
import type { ActorThreadData, ThreadRequest, ThreadResponse } from './thread-protocol.ts';

const runtimes = new Map<number, TaskRuntime>();
let job: Promise<JobDefinition> | undefined;

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

async function open(task: number, dataDir: string): Promise<ThreadResponse> {
  if (runtimes.has(task)) throw new IllegalStateError(`task ${task} is already open on this thread`);
  job ??= loadJob(threadData().jobRef);
  const definition = await job;
  const store = await TaskStore.open(join(dataDir, `task-${task}`));
  try {
    const runtime = await TaskRuntime.open(definition, task, store);
    runtimes.set(task, runtime);
    return { type: 'opened', task, offsets: runtime.offsets() };
  } catch (thrown) {
    await store.close();
    throw thrown;
  }
}

function processed(task: number, result: ProcessResult): ThreadResponse {
  const { outputs, deadLetters, stats, timerFailures } = result;
  const response: ThreadResponse = { type: 'processed', task, outputs, deadLetters, stats };
  return timerFailures.length === 0 ? response : { ...response, timerFailures };
}

/** Handles one request of the main thread (piscina's task function). */
export default async function handle(request: ThreadRequest): Promise<ThreadResponse> {
  switch (request.type) {
    case 'open':
      return open(request.task, request.dataDir);
    case 'records':
      return processed(request.task, await runtimeOf(request.task, 'records').process(request.records, request.nowMs));
    case 'tick':
      return processed(request.task, await runtimeOf(request.task, 'tick').tick(request.nowMs));
    case 'flush':
      return { type: 'flushed', task: request.task, offsets: await runtimeOf(request.task, 'flush').flush() };
    case 'close': {
      const runtime = runtimeOf(request.task, 'close');
      runtimes.delete(request.task);
      await runtime.close();
      return { type: 'closed', task: request.task };
    }
    default:
      throw new IllegalStateError(`unknown thread request ${JSON.stringify(request satisfies never)}`);
  }
}

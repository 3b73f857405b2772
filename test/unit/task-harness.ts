// Helpers for the task runtime tests: temp data dirs, records, and a runtime over a real
// LevelDB, opened fresh or restored from a barrier's snapshot.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { createTaskStore, restoreTaskStore, type ChainSource } from '../../state/task-store-open.ts';
import type { JobDefinition } from '../../job/api.ts';
import { TaskRuntime, type TaskRuntimeOptions } from '../../worker/runtime/task-runtime.ts';
import type { BufferedOutput, OutputRecord, SourceRecord } from '../../worker/thread-protocol.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-unit-'));
  dirs.push(dir);
  return dir;
}

/** Opens a fresh task runtime on its own (wiped) store under `dir`. */
export async function openRuntime(job: JobDefinition, dir: string, task = 0, options: TaskRuntimeOptions = {}): Promise<TaskRuntime> {
  const store = await createTaskStore(join(dir, `task-${task}`));
  return TaskRuntime.open(job, task, store, options);
}

/** Where a test's barrier `checkpointId` writes its snapshot. */
export function snapshotTarget(dir: string, checkpointId: number, task = 0): { root: string; ref: string } {
  return { root: join(dir, 'checkpoints'), ref: join(`${checkpointId}`, `task-${task}.snap`) };
}

/** Takes barrier `checkpointId`, waits for its snapshot (which must succeed) and returns its chain. */
export async function checkpoint(runtime: TaskRuntime, dir: string, checkpointId: number): Promise<ChainSource> {
  const target = snapshotTarget(dir, checkpointId, runtime.task);
  const { snapshot } = await runtime.barrier(checkpointId, target);
  const result = await snapshot;
  expect(result).toMatchObject({ type: 'snapshot-written', checkpointId });
  if (result.type !== 'snapshot-written') throw new Error('unreachable');
  return { task: runtime.task, root: target.root, chain: result.chain };
}

/** Opens a task runtime under `dir`, rebuilt from the snapshot chain of checkpoint `checkpointId`. */
export async function restoreRuntime(job: JobDefinition, dir: string, source: ChainSource, checkpointId: number, task = 0, options: TaskRuntimeOptions = {}): Promise<TaskRuntime> {
  const store = await restoreTaskStore(join(dir, `task-${task}`), { ...source, task });
  return TaskRuntime.open(job, task, store, { ...options, restoredFrom: checkpointId, restoredChain: source.chain });
}

/** The outputs (not dead letters) among buffered entries. */
export function bufferedOutputs(items: readonly BufferedOutput[]): OutputRecord[] {
  return items.flatMap((item) => ('output' in item ? [item.output] : []));
}

/** A record; `value` objects are sent as JSON, strings as UTF-8. */
export function record(topic: string, offset: number | string, value: unknown, extra: Partial<SourceRecord> & { keyText?: string } = {}): SourceRecord {
  const { keyText, ...rest } = extra;
  const bytes = value === null ? null : new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));
  return {
    topic,
    partition: 0,
    offset: String(offset),
    timestamp: 1_000,
    key: keyText === undefined ? null : new TextEncoder().encode(keyText),
    value: bytes,
    ...rest,
  };
}

/** Parsed JSON values of outputs. */
export function values(outputs: { value: string | null }[]): unknown[] {
  return outputs.map((output) => (output.value === null ? null : (JSON.parse(output.value) as unknown)));
}

/** `items` as an async stream, handed out one at a time. */
export async function* streamOf<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** `items` as an async stream of batches of `size` (as a LevelDB view hands them out). */
export async function* batchesOf<T>(items: readonly T[], size = 3): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield await Promise.resolve(items.slice(i, i + size));
}

/** Polls `condition` every 10 ms until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

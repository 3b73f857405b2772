// Helpers for the task runtime tests: temp data dirs, records, and a runtime over a real
// LevelDB that can be closed and reopened in the same process.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { TaskStore } from '../../state/task-store.ts';
import type { JobDefinition } from '../../worker/job/api.ts';
import { TaskRuntime, type TaskRuntimeOptions } from '../../worker/runtime/task-runtime.ts';
import type { SourceRecord } from '../../worker/thread-protocol.ts';

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

/** Opens a task's runtime on its own store in `dir`. */
export async function openRuntime(job: JobDefinition, dir: string, task = 0, options: TaskRuntimeOptions = {}): Promise<TaskRuntime> {
  const store = await TaskStore.open(join(dir, `task-${task}`));
  return TaskRuntime.open(job, task, store, options);
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

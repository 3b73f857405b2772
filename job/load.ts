/**
 * Finds a job by reference, the same way on the main thread and on every actor thread: a
 * built-in name (`eos-check`, `ecommerce`, `engagement`, `clickstream`) or the path of a module, relative to the
 * working directory, whose default export is a `defineJob(...)`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, ensureError } from '../common/errors.ts';
import type { JobDefinition } from './contract/job.ts';
import { isJobDefinition } from './builders/define-job.ts';

const BUILTIN_JOBS: Readonly<Record<string, URL>> = {
  'eos-check': new URL('../examples/eos-check/job.ts', import.meta.url),
  'ecommerce': new URL('../examples/ecommerce/job.ts', import.meta.url),
  'engagement': new URL('../examples/engagement/job.ts', import.meta.url),
  'clickstream': new URL('../examples/clickstream/job.ts', import.meta.url),
};

/** Names of the built-in jobs. */
export function builtinJobs(): string[] {
  return Object.keys(BUILTIN_JOBS);
}

/**
 * Loads a job.
 *
 * @param ref a built-in job name, or a module path (relative to `process.cwd()`)
 * @throws ConfigError when the module cannot be imported or does not default-export a job
 */
export async function loadJob(ref: string): Promise<JobDefinition> {
  const url = BUILTIN_JOBS[ref] ?? pathToFileURL(resolve(process.cwd(), ref));
  let module: { default?: unknown };
  try {
    module = (await import(url.href)) as { default?: unknown };
  } catch (thrown) {
    const known = builtinJobs().join(', ');
    throw new ConfigError(`job '${ref}': cannot import ${url.pathname} (built-in jobs: ${known}): ${ensureError(thrown).message}`, { cause: thrown });
  }
  if (!isJobDefinition(module.default)) {
    throw new ConfigError(`job '${ref}': ${url.pathname} must default-export defineJob({...}), got ${describe(module.default)}`);
  }
  return module.default;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object not made by defineJob' : `a ${typeof value}`;
}

/**
 * The k6 load generator for `npm run bench`: built once with `go install` at a pinned version
 * into the cache outside the repository (`<local.cacheDir>/k6-<version>/k6`, so
 * `EDDY_CACHE_DIR` moves it), the way deploy/local/nats.ts builds nats-server. No Docker, no
 * download of a prebuilt binary. `EDDY_K6=<path>` uses another k6 instead.
 *
 * Run directly (`npm run k6:build`), it builds if needed and prints the binary's path.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, type EddyConfig } from '../../common/config.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import { goProgress, runFirstRunStep } from '../../deploy/local/first-run.ts';
import { requireCommand } from '../../deploy/local/processes.ts';

export const k6Version = 'v1.8.1';
const k6Module = 'go.k6.io/k6';

/** Where the pinned k6 lives once built. */
export function k6BinaryPath(config: EddyConfig): string {
  return join(config.local.cacheDir, `k6-${k6Version}`, 'k6');
}

/**
 * Path of a k6 binary: `$EDDY_K6`, else the cached build, else (first run only) a fresh
 * `go install go.k6.io/k6@<version>`. A missing Go throws a `MissingPrerequisiteError`.
 */
export async function ensureK6(config: EddyConfig, logger: Logger): Promise<string> {
  const fromEnv = process.env.EDDY_K6;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const binary = k6BinaryPath(config);
  if (existsSync(binary)) return binary;
  const go = requireCommand('go', 'install Go 1.25 or newer (https://go.dev/dl/) to build k6 for the benchmark, or set EDDY_K6 to a k6 binary.');
  // Build into a staging directory and rename: an interrupted build never leaves a half binary
  // under the final name.
  const staging = `${dirname(binary)}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    await runFirstRunStep({
      what: `building k6 ${k6Version} with go install`, command: go,
      args: ['install', '-trimpath', `${k6Module}@${k6Version}`], env: { ...process.env, GOBIN: staging, CGO_ENABLED: '0' }, progress: goProgress(),
    });
    rmSync(dirname(binary), { recursive: true, force: true });
    renameSync(staging, dirname(binary));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  logger.info({ binary }, 'k6 built');
  return binary;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const logger = createLogger('k6-build');
  try {
    console.log(await ensureK6(loadConfig(), logger));
  } catch (err) {
    logger.error((err as Error).message);
    process.exitCode = 1;
  }
}

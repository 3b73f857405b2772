/**
 * A real NATS server with JetStream for local runs and tests. The binary is the one on PATH,
 * or one built once with `go install` (pinned version) into the cache outside the repository.
 * Listens on loopback only.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'nats';
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import type { StartOutcome } from './kafka.ts';
import { goProgress, runFirstRunStep } from './first-run.ts';
import { isPortOpen, livePid, requireCommand, startDaemon, stopDaemon, waitUntil, which } from './processes.ts';

export const natsServerVersion = 'v2.11.10';
const readyTimeoutMs = 30_000;

function paths(config: EddyConfig): { dir: string; store: string; pidFile: string; logFile: string; cachedBinary: string } {
  const dir = join(config.local.stateDir, 'nats');
  return {
    dir,
    store: join(dir, 'jetstream'),
    pidFile: join(dir, 'nats.pid'),
    logFile: join(dir, 'nats.log'),
    cachedBinary: join(config.local.cacheDir, `nats-server-${natsServerVersion}`, 'nats-server'),
  };
}

/**
 * Path of a nats-server binary: `$EDDY_NATS_SERVER`, the cached build, the one on PATH, or
 * (first run only) a fresh `go install` of the pinned version.
 */
export async function installNatsServer(config: EddyConfig, logger: Logger): Promise<string> {
  const fromEnv = process.env.EDDY_NATS_SERVER;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const { cachedBinary } = paths(config);
  if (existsSync(cachedBinary)) return cachedBinary;
  const onPath = which('nats-server');
  if (onPath !== undefined) return onPath;
  const go = requireCommand('go', 'install Go 1.22 or newer (to build nats-server), or Debian\'s nats-server package.');
  const gobin = join(config.local.cacheDir, `nats-server-${natsServerVersion}`);
  await runFirstRunStep({
    what: `building nats-server ${natsServerVersion} with go install`, command: go,
    args: ['install', `github.com/nats-io/nats-server/v2@${natsServerVersion}`], env: { ...process.env, GOBIN: gobin }, progress: goProgress(),
  });
  logger.info({ binary: cachedBinary }, 'nats-server built');
  return cachedBinary;
}

/** True if a NATS server with JetStream answers at `url`. */
export async function natsAnswers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
    try {
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

/** Starts the local NATS server unless ours is already running, and waits until it answers. */
export async function startNats(config: EddyConfig, logger: Logger): Promise<StartOutcome> {
  const p = paths(config);
  const { host, natsPort } = config.local;
  const url = `nats://${host}:${natsPort}`;
  const running = livePid(p.pidFile);
  if (running !== undefined) {
    await waitUntil('NATS', () => natsAnswers(url), { timeoutMs: readyTimeoutMs, pid: running, logFile: p.logFile });
    return 'reused';
  }
  if (await isPortOpen(host, natsPort)) {
    throw new Error(
      `port ${host}:${natsPort} is in use by a process Eddy did not start: set EDDY_NATS_URL to use an existing NATS, or EDDY_NATS_PORT to pick a free port`,
    );
  }
  const binary = await installNatsServer(config, logger);
  mkdirSync(p.store, { recursive: true });
  const args = ['-a', host, '-p', String(natsPort), '-js', '-sd', p.store, '-n', 'eddy-local'];
  const pid = startDaemon({ name: 'nats', command: binary, args, pidFile: p.pidFile, logFile: p.logFile });
  logger.info({ serverPid: pid, url, log: p.logFile }, 'starting NATS');
  await waitUntil('NATS', () => natsAnswers(url), { timeoutMs: readyTimeoutMs, pid, logFile: p.logFile });
  return 'started';
}

export function stopNats(config: EddyConfig): Promise<boolean> {
  return stopDaemon(paths(config).pidFile, 10_000);
}

export function natsPid(config: EddyConfig): number | undefined {
  return livePid(paths(config).pidFile);
}

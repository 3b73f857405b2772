/**
 * Background servers of the local stack, tracked by pid files so that a later `npm start`,
 * `npm test` or `eddy stack down` (another process, maybe another checkout) can find, reuse
 * and stop them. Start is idempotent: a live server with our pid file is reused.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import { isAlive } from '../../common/pids.ts';

export { isAlive };

/** Pid recorded in `pidFile` if that process is still alive, else undefined (stale files are removed). */
export function livePid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return pid;
  rmSync(pidFile, { force: true });
  return undefined;
}

/** Resolves true if something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  pidFile: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Set once this process began stopping what it started (Ctrl-C during a start-up): from then on
 * it starts nothing. Checked right before each spawn, with no await in between, so a start that
 * was under way when the signal came either spawned before (and its stop was registered before
 * that) or spawns nothing.
 */
let stoppingSince: string | undefined;

export function beginStopping(reason: string): void {
  stoppingSince ??= reason;
}

/** Why this process is stopping, or undefined while it is not. */
export function stopping(): string | undefined {
  return stoppingSince;
}

/** Throws if this process is stopping; call right before spawning something. */
export function refuseWhileStopping(what: string): void {
  if (stoppingSince !== undefined) throw new StartInterruptedError(`not starting ${what}: ${stoppingSince}`);
}

/** A start given up because the process is stopping (Ctrl-C): not a failure to report. */
export class StartInterruptedError extends Error {
  override readonly name = 'StartInterruptedError';
}

/** Starts a detached server writing to `logFile`; returns its pid, recorded in `pidFile`. */
export function startDaemon(spec: DaemonSpec): number {
  refuseWhileStopping(spec.name);
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const log = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: spec.env ?? process.env,
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`${spec.name}: could not start ${spec.command}`);
  child.unref();
  writeFileSync(spec.pidFile, `${child.pid}\n`);
  return child.pid;
}

/** `signal` (default SIGTERM), then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
export async function stopDaemon(pidFile: string, graceMs = 20_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  const pid = livePid(pidFile);
  if (pid === undefined) return false;
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await sleep(50);
  rmSync(pidFile, { force: true });
  return true;
}

/** Polls `check` until it resolves true; throws with `what` and the log tail on timeout. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; pid?: number; logFile?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (options.pid !== undefined && !isAlive(options.pid)) {
      throw new Error(`${what}: the process exited during start-up${logTail(options.logFile)}`);
    }
    await sleep(200);
  }
  throw new Error(`${what}: not ready after ${options.timeoutMs} ms${logTail(options.logFile)}`);
}

function logTail(logFile: string | undefined): string {
  if (logFile === undefined || !existsSync(logFile)) return '';
  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-15);
  return `; last lines of ${logFile}:\n${lines.join('\n')}`;
}

/** Absolute path of `command` on PATH, or undefined. */
export function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path !== '' ? path : undefined;
}

/** Like `which`, but a missing command throws one sentence saying what to install. */
export function requireCommand(command: string, install: string): string {
  const path = which(command);
  if (path === undefined) {
    throw new MissingPrerequisiteError(`'${command}' was not found on PATH: ${install}`);
  }
  return path;
}

/** Runs a command to completion, throwing with its output if it fails. */
export function runOrThrow(what: string, command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${output}`);
  }
  return result.stdout;
}


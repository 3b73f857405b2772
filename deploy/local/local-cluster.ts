/**
 * A coordinator and N workers as separate OS processes on this machine, started with the
 * `eddy` CLI: what `eddy up`, the integration tests and the chaos runs use. Each process logs
 * to its own file (and, if asked, to this terminal with a name prefix). `kill` sends any
 * signal, SIGKILL included; `restart` starts a process again under the same name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { clientToken, loadConfig } from '../../common/config.ts';
import { bearer } from '../../common/http-auth.ts';
import type { ClusterView } from '../../coordinator/cluster-controller.ts';
import { readableLogLine } from './log-lines.ts';
import { refuseWhileStopping } from './processes.ts';

const eddyBin = fileURLToPath(new URL('../../bin/eddy.js', import.meta.url));

export interface LocalClusterOptions {
  job: string;
  workers: number;
  brokers: string[];
  natsUrl?: string;
  /** Directory for process logs and task state. */
  dir: string;
  controlPort: number;
  adminPort: number;
  /**
   * Also show each process's output on this process's stderr, prefixed with its name: `true`
   * every line, `'warnings'` warnings and errors only, one readable line each (log-lines.ts).
   */
  echo?: boolean | 'warnings';
  /** Extra environment for every process (e.g. EDDY_LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
  threadsPerWorker?: number;
  /** Node.js flags for every process, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile. */
  nodeArgs?: string[];
  /** Environment of one process (by name), over everything else (the chaos harness routes a worker through its proxies). */
  memberEnv?: (name: string) => NodeJS.ProcessEnv;
  /** The coordinator address a worker is given (default 127.0.0.1:controlPort). */
  coordinatorAddress?: (worker: string) => string;
  /** Where `echo: 'warnings'` lines go (default: stderr); `eddy up` keeps its status line below them. */
  onEcho?: (line: string) => void;
  /** The bearer token for the admin API (default: EDDY_TOKEN, else the tokens file's, of this process's and `env`'s config). */
  token?: string;
}

interface Member {
  name: string;
  args: string[];
  child: ChildProcess;
  exited: Promise<void>;
  /** Set when this cluster sent the signal that ends it (kill, stop). */
  expectedExit: boolean;
}

/** A process that exited without being told to (a crash). */
export interface UnexpectedExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

/** A free TCP port on loopback (bound and released at once; fine for tests and local runs). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export class LocalCluster {
  private readonly members = new Map<string, Member>();
  /** The admin API's bearer token once looked up ('' for none). */
  private token: string | undefined;
  private readonly logs: WriteStream[] = [];
  private readonly crashes: UnexpectedExit[] = [];

  constructor(readonly options: LocalClusterOptions) {
    mkdirSync(join(options.dir, 'logs'), { recursive: true });
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.options.adminPort}`;
  }

  /** Where workers reach the coordinator's control endpoint. */
  get controlAddress(): string {
    return `127.0.0.1:${this.options.controlPort}`;
  }

  workerNames(): string[] {
    return Array.from({ length: this.options.workers }, (_, i) => `worker-${i + 1}`);
  }

  /**
   * Starts the coordinator and the workers at once, then waits for the coordinator's admin API.
   * Their start-ups overlap: a worker waits for the job's topics (the coordinator creates them)
   * and then for the coordinator's control endpoint, and the coordinator waits briefly for the
   * expected workers before its first assignment. When start-up fails, it stops what it
   * launched before throwing: its caller has no cluster to stop.
   */
  async start(): Promise<void> {
    try {
      await this.launchAll();
    } catch (err) {
      await this.stop(5_000).catch(() => undefined);
      throw err;
    }
  }

  private async launchAll(): Promise<void> {
    this.launch('coordinator', [
      'coordinator', '--job', this.options.job,
      '--control-port', String(this.options.controlPort), '--admin-port', String(this.options.adminPort),
      '--expect-workers', String(this.options.workers),
    ]);
    for (const name of this.workerNames()) this.launchWorker(name);
    await this.waitFor('coordinator admin API', async () => {
      if (this.members.get('coordinator')?.child.exitCode !== null) throw new Error(`local cluster: the coordinator exited during start-up (log: ${join(this.options.dir, 'logs', 'coordinator.log')})`);
      return (await this.view()) !== undefined;
    }, 60_000);
  }

  /** Waits until every task runs on a live worker and `count` workers are alive. */
  async waitUntilRunning(timeoutMs = 60_000, count = this.options.workers): Promise<ClusterView> {
    let last: ClusterView | undefined;
    await this.waitFor(`all tasks running on ${count} workers`, async () => {
      last = await this.view();
      return last !== undefined && clusterRunning(last, count);
    }, timeoutMs);
    return last as ClusterView;
  }

  async view(): Promise<ClusterView | undefined> {
    try {
      this.token ??= this.options.token ?? clientToken(loadConfig({ env: { ...process.env, ...this.options.env } }), { ...process.env, ...this.options.env }) ?? '';
      const response = await fetch(`${this.adminUrl}/api/v1/cluster`, { headers: bearer(this.token === '' ? undefined : this.token), signal: AbortSignal.timeout(2_000) });
      return response.ok ? ((await response.json()) as ClusterView) : undefined;
    } catch {
      return undefined;
    }
  }

  pid(name: string): number | undefined {
    return this.members.get(name)?.child.pid;
  }

  /** Sends `signal` to a process and waits until it has exited. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`no process named ${name}`);
    member.expectedExit = true;
    member.child.kill(signal);
    await member.exited;
  }

  /** Processes that exited although nobody killed or stopped them, with their exit code or signal. */
  unexpectedExits(): readonly UnexpectedExit[] {
    return this.crashes;
  }

  /** Sends `signal` without waiting (SIGSTOP / SIGCONT freeze and thaw a process: a zombie). */
  signal(name: string, signal: NodeJS.Signals): void {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`no process named ${name}`);
    member.child.kill(signal);
  }

  /** Starts a process again under its name and arguments (after `kill`). */
  /**
   * Launches the named process again unless it is still running: two faults that each kill and
   * restart the same worker at once would otherwise start two processes under one name, and
   * the first would run on untracked (never stopped, and a second session for the same id).
   */
  restart(name: string): void {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`no process named ${name}`);
    if (member.child.exitCode === null && member.child.signalCode === null) return;
    this.launch(name, member.args);
  }

  /** SIGTERM to every process (workers first), SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const ordered = [...this.members.values()].sort((a) => (a.name === 'coordinator' ? 1 : -1));
    for (const m of ordered) {
      m.expectedExit = true;
      m.child.kill('SIGTERM');
    }
    const all = Promise.all(ordered.map((m) => m.exited));
    const timedOut = await Promise.race([all.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) for (const m of ordered) m.child.kill('SIGKILL');
    await all;
    await Promise.all(this.logs.map((log) => new Promise((resolve) => log.end(resolve))));
  }

  private launchWorker(name: string): void {
    const coordinator = this.options.coordinatorAddress?.(name) ?? `127.0.0.1:${this.options.controlPort}`;
    const args = ['worker', '--job', this.options.job, '--id', name, '--coordinator', coordinator, '--data-dir', join(this.options.dir, 'data')];
    if (this.options.threadsPerWorker !== undefined) args.push('--threads', String(this.options.threadsPerWorker));
    this.launch(name, args);
  }

  private launch(name: string, args: string[]): void {
    refuseWhileStopping(name);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      EDDY_KAFKA_BROKERS: this.options.brokers.join(','),
      EDDY_CHECKPOINT_DIR: join(this.options.dir, 'checkpoints'),
      ...(this.options.natsUrl !== undefined && { EDDY_NATS_URL: this.options.natsUrl }),
      EDDY_LOG_FORMAT: this.options.echo === true && process.stderr.isTTY ? 'pretty' : 'json',
      ...this.options.memberEnv?.(name),
    };
    const child = spawn(process.execPath, [...(this.options.nodeArgs ?? []), eddyBin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(join(this.options.dir, 'logs', `${name}.log`), { flags: 'a' });
    this.logs.push(log);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        if (this.options.echo === true) process.stderr.write(`[${name}] ${line}\n`);
        else if (this.options.echo === 'warnings') {
          const readable = readableLogLine(name, line);
          if (readable === undefined) return;
          if (this.options.onEcho !== undefined) this.options.onEcho(readable);
          else process.stderr.write(`${readable}\n`);
        }
      });
    }
    const member: Member = { name, args, child, exited: Promise.resolve(), expectedExit: false };
    member.exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
      if (!member.expectedExit) this.crashes.push({ name, code, signal, atMs: Date.now() });
      resolve();
    }));
    this.members.set(name, member);
  }

  private async waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check()) return;
      await sleep(100);
    }
    throw new Error(`local cluster: ${what}: not reached within ${timeoutMs} ms (logs in ${join(this.options.dir, 'logs')})`);
  }
}

/** Every task is running on a live worker, and `workers` workers are alive. */
export function clusterRunning(view: ClusterView, workers: number): boolean {
  const alive = new Set(view.workers.filter((w) => w.alive).map((w) => w.id));
  return alive.size === workers && view.tasks.length > 0 && view.tasks.every((t) => t.state === 'running' && t.worker !== null && alive.has(t.worker));
}

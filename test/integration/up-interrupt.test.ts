// Ctrl-C at any moment of `eddy up`'s start-up stops everything it started. Each case runs
// `eddy up` in a process group of its own, on a Kafka and a NATS of its own (own ports and
// state directory, as a fresh machine would), sends SIGINT to the whole group (as a terminal
// does) when the output shows a given step, and then looks for any process whose command line
// names the run's state directory: the servers, the coordinator and the workers all do.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../deploy/local/local-cluster.ts';

const eddy = fileURLToPath(new URL('../../bin/eddy.js', import.meta.url));

/** A free port whose next port is free too (Kafka's controller listens there). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const next = createServer();
    const free = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.listen(port + 1, '127.0.0.1', () => next.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Pids of live processes whose command line contains `text`. */
function processesNaming(text: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const moments = [
  { name: 'while NATS starts', when: /starting NATS/ },
  { name: 'while Kafka starts', when: /starting Kafka/ },
  { name: 'while the coordinator and workers start', when: /\[worker-1\]/ },
  { name: 'once the cluster runs', when: /cluster running/ },
];

describe('eddy up interrupted by Ctrl-C', () => {
  for (const moment of moments) {
    it(`leaves nothing running when interrupted ${moment.name}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'eddy-up-interrupt-'));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        EDDY_STATE_DIR: dir,
        EDDY_KAFKA_PORT: String(await freePortPair()),
        EDDY_NATS_PORT: String(await freePort()),
        EDDY_LOG_LEVEL: 'info',
      };
      for (const name of ['EDDY_KAFKA_BROKERS', 'EDDY_NATS_URL', 'EDDY_CONFIG', 'EDDY_COORDINATOR']) delete env[name];
      const child = spawn(process.execPath, [
        eddy, 'up', '--workers', '2', '--job', 'eos-check',
        '--admin-port', String(await freePort()), '--control-port', String(await freePort()),
      ], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      const pgid = child.pid!;
      let output = '';
      let signalled = false;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const watch = (chunk: Buffer): void => {
        output += chunk.toString();
        if (!signalled && moment.when.test(output)) {
          signalled = true;
          process.kill(-pgid, 'SIGINT');
        }
      };
      child.stdout.on('data', watch);
      child.stderr.on('data', watch);
      try {
        const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 120_000))]);
        expect(signalled, `the output never showed ${String(moment.when)}:\n${output.slice(-3000)}`).toBe(true);
        expect(code, `eddy up did not exit within 120 s of the SIGINT:\n${output.slice(-3000)}`).not.toBe('timeout');
        // The coordinator and workers exit on the group's SIGINT on their own; give them a moment.
        for (let i = 0; i < 50 && processesNaming(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
        expect(processesNaming(dir), `still running after eddy up exited:\n${output.slice(-3000)}`).toEqual([]);
        // The terminal shows warnings, not the processes' info lines; those are in the log files.
        expect(output, 'raw JSON info lines of the processes on the terminal').not.toMatch(/^\[(coordinator|worker-\d+)\] \{"level":30/m);
        if (moment.name === 'once the cluster runs') {
          expect(output).toMatch(/cluster running: dashboard http:\/\/127\.0\.0\.1:\d+\//);
          expect(output).toContain('stopped the coordinator, worker-1, worker-2');
        }
        // A stopping worker starts no task, though the coordinator may reassign a departed worker's tasks to it.
        for (const worker of ['worker-1', 'worker-2']) {
          const logFile = join(dir, 'logs', `${worker}.log`);
          const lines = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n') : [];
          const stoppingAt = lines.findIndex((line) => line.includes('stopping: flushing tasks'));
          if (stoppingAt >= 0) expect(lines.slice(stoppingAt).filter((line) => line.includes('"task running"')), `${worker} started a task while stopping`).toEqual([]);
        }
      } finally {
        for (const pid of processesNaming(dir)) process.kill(pid, 'SIGKILL');
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // the group is gone
        }
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});

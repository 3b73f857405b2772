/** `eddy status`: the coordinator's view of the cluster as a table, once or refreshed (`--watch`). */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import { clientToken, loadConfig } from '../common/config.ts';
import { fetchAdmin } from '../common/admin-client.ts';
import type { ClusterView } from '../coordinator/cluster-controller.ts';
import type { DashboardSnapshot } from '../coordinator/dashboard/dashboard-feed.ts';
import { untilSignal } from './process-signals.ts';

export function statusCommand(): Command {
  return new Command('status')
    .description('show workers and tasks as the coordinator sees them')
    .option('--admin <url>', 'coordinator admin URL (default: http://<cluster.host>:<cluster.adminPort>)')
    .option('--json', 'print the raw JSON')
    .option('-w, --watch [seconds]', 'refresh every N seconds (default 2), with throughput, lag, latency and checkpoints, until Ctrl-C')
    .action(async (flags: { admin?: string; json?: boolean; watch?: boolean | string }) => {
      const config = loadConfig();
      const admin = flags.admin ?? `http://${config.cluster.host}:${config.cluster.adminPort}`;
      const token = clientToken(config);
      if (flags.watch === undefined || flags.watch === false) {
        const view = await fetchAdmin<ClusterView>(admin, '/api/v1/cluster', token);
        if (flags.json === true) console.log(JSON.stringify(view, null, 2));
        else printCluster(view);
        return;
      }
      const seconds = flags.watch === true ? 2 : Number(flags.watch);
      if (!(seconds > 0)) throw new Error(`--watch takes a number of seconds above 0, not '${String(flags.watch)}'`);
      await watch(admin, seconds * 1000, flags.json === true, token);
    });
}

/** Redraws the status every `intervalMs` until SIGINT/SIGTERM; a coordinator that is away is said so, and asked again. */
async function watch(admin: string, intervalMs: number, json: boolean, token: string | undefined): Promise<void> {
  let stopped = false;
  const wake = new AbortController();
  const stopping = untilSignal(() => {
    stopped = true;
    wake.abort();
    return Promise.resolve();
  });
  const clear = process.stdout.isTTY ? '\x1b[H\x1b[2J' : '';
  while (!stopped) {
    let text: string;
    try {
      const view = await fetchAdmin<ClusterView>(admin, '/api/v1/cluster', token);
      // Coordinators from before the dashboard have no snapshot: the table alone then.
      const snapshot = await fetchAdmin<DashboardSnapshot>(admin, '/api/v1/dashboard', token).catch(() => undefined);
      text = json ? JSON.stringify({ cluster: view, dashboard: snapshot }) : formatStatus(view, snapshot);
    } catch (err) {
      text = `${(err as Error).message}; asking again in ${intervalMs / 1000} s`;
    }
    process.stdout.write(`${clear}${text}\n${clear === '' && !json ? '\n' : ''}`);
    await sleep(intervalMs, undefined, { signal: wake.signal }).catch(() => undefined);
  }
  await stopping;
}

export function printCluster(view: ClusterView): void {
  console.log(formatStatus(view));
}

/** The cluster as a table, and with a dashboard snapshot the job's figures above it. */
export function formatStatus(view: ClusterView, snapshot?: DashboardSnapshot): string {
  const lines: string[] = [];
  if (snapshot !== undefined) {
    const { throughput, latency, checkpoints } = snapshot;
    const last = checkpoints.recent.find((c) => c.state !== 'pending');
    const ms = (v: number | null) => (v === null ? '-' : `${Math.round(v)} ms`);
    lines.push(`job ${snapshot.job}: ${Math.round(throughput.inPerSec)} records/s in, ${Math.round(throughput.outPerSec)} outputs/s, lag ${snapshot.lag}, latency p50 ${ms(latency.p50)} p95 ${ms(latency.p95)} p99 ${ms(latency.p99)}`);
    lines.push(
      `checkpoint ${checkpoints.latestCompleted}` +
        (last === undefined ? '' : ` (last: ${last.state}${last.reason === undefined ? '' : ` ${last.reason}`}, ${last.durationMs} ms${last.state === 'completed' ? `, ${last.bytes} bytes` : ''})`) +
        `; dead letters ${snapshot.deadLetters.total}`,
    );
  }
  const rows = view.workers.map((w) => [w.id, String(w.pid), w.endpoint, w.alive ? 'alive' : 'dead', w.tasks.join(',') || '-']);
  const header = ['WORKER', 'PID', 'ENDPOINT', 'STATE', 'TASKS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  lines.push(`generation ${view.generation}`, line(header), ...rows.map(line));
  const notRunning = view.tasks.filter((t) => t.state !== 'running');
  lines.push(notRunning.length === 0 ? `all ${view.tasks.length} tasks running` : `not running: ${notRunning.map((t) => `${t.task}(${t.state})`).join(' ')}`);
  for (const t of view.tasks.filter((t) => t.lastFailure !== undefined)) lines.push(`task ${t.task} last failed: ${t.lastFailure}`);
  return lines.join('\n');
}

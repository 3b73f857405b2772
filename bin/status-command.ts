/** `eddy status`: the coordinator's view of the cluster as a table. */
import { Command } from 'commander';
import { loadConfig } from '../common/config.ts';
import type { ClusterView } from '../coordinator/cluster-controller.ts';

export function statusCommand(): Command {
  return new Command('status')
    .description('show workers and tasks as the coordinator sees them')
    .option('--admin <url>', 'coordinator admin URL (default: http://<cluster.host>:<cluster.adminPort>)')
    .option('--json', 'print the raw JSON')
    .action(async (flags: { admin?: string; json?: boolean }) => {
      const config = loadConfig();
      const url = `${flags.admin ?? `http://${config.cluster.host}:${config.cluster.adminPort}`}/api/v1/cluster`;
      let response: Response;
      try {
        response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      } catch (err) {
        throw new Error(`no coordinator answers at ${url} (${(err as Error).message}); is the cluster up?`);
      }
      if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
      const view = (await response.json()) as ClusterView;
      if (flags.json === true) console.log(JSON.stringify(view, null, 2));
      else printCluster(view);
    });
}

export function printCluster(view: ClusterView): void {
  const rows = view.workers.map((w) => [w.id, String(w.pid), w.endpoint, w.alive ? 'alive' : 'dead', w.tasks.join(',') || '-']);
  const header = ['WORKER', 'PID', 'ENDPOINT', 'STATE', 'TASKS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  console.log(`generation ${view.generation}`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const notRunning = view.tasks.filter((t) => t.state !== 'running');
  console.log(notRunning.length === 0 ? `all ${view.tasks.length} tasks running` : `not running: ${notRunning.map((t) => `${t.task}(${t.state})`).join(' ')}`);
  for (const t of view.tasks.filter((t) => t.lastFailure !== undefined)) console.log(`task ${t.task} last failed: ${t.lastFailure}`);
}

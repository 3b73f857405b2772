/**
 * Prometheus file-based service discovery for Eddy workers. Workers listen on any free port by
 * default (`worker.httpPort: 0`) and announce it to the coordinator, so their scrape targets come
 * from the coordinator's `GET /api/v1/cluster`, written as a `file_sd_configs` file that
 * Prometheus re-reads when it changes.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { fetchAdmin } from '../../common/admin-client.ts';
import type { ClusterView } from '../../coordinator/cluster-controller.ts';

/** One group of a `file_sd_configs` file. */
export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The live workers' endpoints, one group in endpoint order. No labels: every worker series
 * already carries `worker` and `role`, and a target label of the same name would clash.
 */
export function workerTargets(view: Pick<ClusterView, 'workers'>): FileSdGroup[] {
  const endpoints = view.workers.filter((w) => w.alive && w.endpoint !== '').map((w) => w.endpoint);
  return [{ targets: [...new Set(endpoints)].sort(), labels: {} }];
}

/** Reads the cluster view from the coordinator's admin API. */
export function fetchCluster(adminUrl: string, timeoutMs = 5_000, token?: string): Promise<ClusterView> {
  return fetchAdmin<ClusterView>(adminUrl, '/api/v1/cluster', token, timeoutMs);
}

/**
 * Writes `groups` to `file` atomically (temp file, rename: Prometheus never reads half a file),
 * unless the file already holds exactly that. True if the file changed.
 */
export async function writeTargets(file: string, groups: FileSdGroup[]): Promise<boolean> {
  const text = `${JSON.stringify(groups, null, 2)}\n`;
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current === text) return false;
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
  return true;
}

// The alerting rules and the Grafana dashboard against the real thing: promtool's own rule
// tests, then Debian's Prometheus scraping a real 3-worker cluster (with traffic, an ingest
// request, a dead letter and a killed worker), and every query of every Grafana panel asked of
// it: each must return data. Prometheus is started by the test and stopped by its pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type LocalCluster } from '../../deploy/local/local-cluster.ts';
import { fetchCluster, workerTargets, writeTargets } from '../../deploy/prometheus/worker-targets.ts';
import { waitRunning } from '../../loadtest/chaos/run-chaos.ts';
import { startEosCluster, stopEosCluster } from './eos-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

const run = promisify(execFile);
const promDir = resolve('deploy/prometheus');
const binaries = { prometheus: '/usr/bin/prometheus', promtool: '/usr/bin/promtool' };

function requireBinaries(): void {
  for (const [name, path] of Object.entries(binaries)) {
    if (!existsSync(path)) throw new Error(`this test needs Debian's Prometheus (${name} at ${path}): apt-get install prometheus; .ci/run installs it`);
  }
}

/** Every query of the Grafana dashboard, with its panel's title. */
function grafanaQueries(): { title: string; expr: string }[] {
  type Panel = { title?: string; panels?: Panel[]; targets?: { expr?: string }[] };
  const dashboard = JSON.parse(readFileSync(resolve('deploy/grafana/eddy-dashboard.json'), 'utf8')) as { panels: Panel[] };
  const out: { title: string; expr: string }[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      if (p.panels !== undefined) walk(p.panels);
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ title: p.title ?? '?', expr: t.expr });
    }
  };
  walk(dashboard.panels);
  return out;
}

describe('alerting rules (promtool)', () => {
  it('fire on what should page and stay quiet on a healthy cluster (promtool test rules), and the config checks', async () => {
    requireBinaries();
    const tested = await run(binaries.promtool, ['test', 'rules', join(promDir, 'alerts.test.yml')]);
    expect(tested.stdout).toContain('SUCCESS');
    const checked = await run(binaries.promtool, ['check', 'rules', join(promDir, 'alerts.yml')]);
    expect(checked.stdout).toMatch(/SUCCESS: 9 rules found/);
  });
});

describe('the Grafana dashboard against a real Prometheus scraping a real cluster', () => {
  const kafka = testKafka();
  const prefix = uniqueName('prom').replace(/[^A-Za-z0-9_.-]/g, '_');
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  const dir = mkdtempSync(join(tmpdir(), 'eddy-prometheus-'));
  let cluster: LocalCluster;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';

  beforeAll(async () => {
    requireBinaries();
    ({ cluster } = await startEosCluster(kafka, prefix));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }',
      `rule_files: ['${join(promDir, 'alerts.yml')}']`,
      'scrape_configs:',
      `  - { job_name: eddy-coordinator, static_configs: [{ targets: ['${new URL(cluster.adminUrl).host}'] }] }`,
      `  - { job_name: eddy-workers, file_sd_configs: [{ files: ['${join(dir, 'targets', '*.json')}'], refresh_interval: 1s }] }`,
      '',
    ].join('\n'));
    mkdirSync(join(dir, 'targets'));
    await writeTargets(join(dir, 'targets', 'workers.json'), workerTargets(await fetchCluster(cluster.adminUrl)));
    prometheus = spawn(binaries.prometheus, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    prometheus.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 60_000;
    while (!(await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false))) {
      if (prometheus.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not start: ${log}`);
      await sleep(250);
    }
  }, 180_000);

  afterAll(async () => {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((r) => prometheus?.once('exit', r));
    }
    await stopEosCluster(kafka, cluster, prefix);
  }, 60_000);

  it('answers every panel\'s query with data, and loads the alerting rules', async () => {
    const producer = kafka.producer();
    await producer.connect();
    // worker-1's ingest endpoint: worker-3 is the one killed below.
    const endpoint = (await fetchCluster(cluster.adminUrl)).workers.find((w) => w.id === 'worker-1' && w.alive)?.endpoint;
    for (let round = 0; round < 40; round++) {
      const messages = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ key: `k${i}`, seq: round + 1 }) }));
      // A dead letter, after the worker restart below: a killed worker's series go stale with it.
      if (round === 30) messages.push({ key: 'bad', value: '{"key": 7, "seq": 1}' });
      await producer.send({ topic: topics.input, messages });
      if (round % 5 === 0) {
        // The ingest endpoint, with each wait, so its panels have data too.
        for (const wait of ['none', 'processed', 'committed']) {
          const response = await fetch(`http://${endpoint}/v1/topics/${topics.input}/events?wait=${wait}`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: 'ingest', value: { key: 'ingest', seq: round } }]),
          });
          expect(response.status).toBe(200);
        }
      }
      if (round === 10) {
        // A worker killed and restarted: restores and assignment changes; its new port goes to the targets file.
        await cluster.kill('worker-3', 'SIGKILL');
        await waitRunning(cluster, 2, 60_000);
        cluster.restart('worker-3');
        await waitRunning(cluster, 3, 60_000);
        await writeTargets(join(dir, 'targets', 'workers.json'), workerTargets(await fetchCluster(cluster.adminUrl)));
      }
      await sleep(250);
    }
    await producer.disconnect();
    await sleep(5_000); // a few more scrapes of everything

    const queries = grafanaQueries();
    expect(queries.length).toBeGreaterThan(30);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      const promql = expr.replaceAll('$__rate_interval', '30s').replaceAll('$worker', '.*');
      const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      if (body.status !== 'success') empty.push(`${title}: ${promql}: ${body.error ?? body.status}`);
      else if ((body.data?.result.length ?? 0) === 0) empty.push(`${title}: ${promql}: no data`);
    }
    expect(empty).toEqual([]);

    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
    const eddy = rules.data.groups.find((g) => g.name === 'eddy');
    expect(eddy?.rules.map((r) => [r.name, r.health, r.lastError ?? ''])).toEqual(eddy?.rules.map((r) => [r.name, 'ok', '']));
    expect(eddy?.rules).toHaveLength(9);
  }, 240_000);
});

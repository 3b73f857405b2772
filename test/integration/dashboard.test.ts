// The coordinator's live dashboard in a real browser (Debian's chromium driven by
// playwright-core, headless) against a real cluster of 3 worker processes on the shared Kafka:
// the page shows the cluster, moves a killed worker's tasks to the survivors, and shows results
// and dead letters (with their reason) as they arrive. Set EDDY_DASHBOARD_SCREENSHOT=<png> to
// keep the screenshot it takes (docs/dashboard.png was made that way).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';
import { startEosCluster, stopEosCluster } from './eos-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

const chromiumPath = '/usr/bin/chromium';

describe('the live dashboard (coordinator, /)', () => {
  const kafka = testKafka();
  const prefix = uniqueName('dash').replace(/[^A-Za-z0-9_.-]/g, '_');
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  let cluster: LocalCluster;
  let browser: Browser;
  let page: Page;
  let producing = true;
  let production: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`the dashboard test needs Debian's chromium at ${chromiumPath} (apt-get install chromium; .ci/run installs it)`);
    ({ cluster } = await startEosCluster(kafka, prefix));
    const producer = kafka.producer();
    await producer.connect();
    production = (async () => {
      try {
        for (let round = 0; producing; round++) {
          const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ key: `k${i}`, seq: round + 1 }) }));
          // Every 20th round a record the job refuses: it goes to the dead-letter topic with its reason.
          if (round % 20 === 5) messages.push({ key: 'bad', value: JSON.stringify({ key: 7, seq: 1 }) });
          await producer.send({ topic: topics.input, messages });
          await sleep(200);
        }
      } finally {
        await producer.disconnect();
      }
    })();
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  }, 180_000);

  afterAll(async () => {
    producing = false;
    await production.catch(() => undefined);
    await browser?.close();
    await stopEosCluster(kafka, cluster, prefix);
  }, 60_000);

  it('shows the cluster, moves a killed worker\'s tasks, and shows results and dead letters as they arrive', async () => {
    await page.goto(`${cluster.adminUrl}/`);
    // The cluster: 3 live workers, every task running on one of them, live over server-sent events.
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('#workers tbody tr[data-alive="true"]').count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => page.locator('.task[data-state="running"]').count(), { timeout: 15_000 }).toBe(EOS_PARTITIONS);
    await expect.poll(async () => Number((await page.locator('#in-rate').textContent())?.replace(/,/g, '')), { timeout: 15_000 }).toBeGreaterThan(0);

    // Results: the exactly-once counts, as committed.
    const newest = () => page.locator('[data-sink="output"] tbody tr td.text').nth(1).textContent();
    await expect.poll(newest, { timeout: 30_000 }).toMatch(/"count":\d+/);
    const first = await newest();
    await expect.poll(newest, { timeout: 30_000 }).not.toBe(first);

    // Dead letters, with the reason the job gave.
    await expect.poll(() => page.locator('#dead-letter-list tbody').textContent(), { timeout: 30_000 }).toContain('expected a string, got 7');

    // A worker killed: its tasks move to the survivors, and it shows as gone.
    const victimTasks = await Promise.all((await page.locator('.task[data-worker="worker-1"]').all()).map(async (card) => Number(await card.getAttribute('data-task'))));
    expect(victimTasks.length).toBeGreaterThan(0);
    await cluster.kill('worker-1', 'SIGKILL');
    await expect.poll(() => page.locator('#workers tbody tr[data-worker-id="worker-1"]').getAttribute('data-alive'), { timeout: 30_000 }).toBe('false');
    for (const task of victimTasks) {
      await expect.poll(async () => {
        const card = page.locator(`.task[data-task="${task}"]`);
        return `${await card.getAttribute('data-state')} ${await card.getAttribute('data-worker')}`;
      }, { timeout: 60_000 }).toMatch(/^running worker-[23]$/);
    }
    // The same figures in the terminal: `eddy status --watch`, stopped by Ctrl-C.
    const status = spawn(process.execPath, ['bin/eddy.js', 'status', '--watch', '1', '--admin', cluster.adminUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
    let printed = '';
    status.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    await expect.poll(() => printed.match(/^job eos-check\S*: \d+ records\/s in/gm)?.length ?? 0, { timeout: 30_000 }).toBeGreaterThanOrEqual(2);
    status.kill('SIGINT');
    const [code] = (await once(status, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(printed).toMatch(/^worker-1 .* dead/m);
    expect(printed).toMatch(/all 12 tasks running/);

    await page.screenshot({ path: process.env.EDDY_DASHBOARD_SCREENSHOT ?? join(tmpdir(), `eddy-dashboard-${process.pid}.png`), fullPage: true });
    expect(statSync(process.env.EDDY_DASHBOARD_SCREENSHOT ?? join(tmpdir(), `eddy-dashboard-${process.pid}.png`)).size).toBeGreaterThan(10_000);
  }, 240_000);
});

// Bearer tokens on a real cluster (coordinator + 3 workers, tokens file via EDDY_TOKENS_FILE):
// each endpoint refuses without a token and a read token where admin is needed, the dashboard
// works in a real browser with a token and asks for one without, `eddy status` presents one,
// and no process logs a token.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { startEosCluster, stopEosCluster } from './eos-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

const run = promisify(execFile);
const readToken = `read-${uniqueName('t')}-0123456789`;
const adminToken = `admin-${uniqueName('t')}-0123456789`;

describe('bearer tokens on a real cluster', () => {
  const kafka = testKafka();
  const prefix = uniqueName('tokens').replace(/[^A-Za-z0-9_.-]/g, '_');
  const tokensFile = join(mkdtempSync(join(tmpdir(), 'eddy-tokens-')), 'tokens.yaml');
  let cluster: LocalCluster;
  let dir = '';
  let input = '';
  let browser: Browser | undefined;

  beforeAll(async () => {
    writeFileSync(tokensFile, `tokens:\n  - { name: dashboard, scope: read, token: ${readToken} }\n  - { name: producer, scope: admin, token: ${adminToken} }\n`, { mode: 0o600 });
    ({ cluster, dir, topics: { input } } = await startEosCluster(kafka, prefix, { EDDY_TOKENS_FILE: tokensFile }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stopEosCluster(kafka, cluster, prefix);
  }, 60_000);

  it('refuses each endpoint without the token it needs, and answers with it', async () => {
    const get = (url: string, token?: string) => fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } }).then((r) => r.status);
    const admin = cluster.adminUrl;
    expect(await get(`${admin}/api/v1/cluster`)).toBe(401);
    expect(await get(`${admin}/api/v1/cluster`, 'wrong-token-0123456789')).toBe(401);
    expect(await get(`${admin}/api/v1/cluster`, readToken)).toBe(200);
    expect(await get(`${admin}/api/v1/dashboard`)).toBe(401);
    expect(await get(`${admin}/metrics`)).toBe(401);
    expect(await get(`${admin}/healthz`)).toBe(200);
    expect(await get(`${admin}/readyz`)).toBe(200);
    expect(await get(`${admin}/`)).toBe(200); // the page itself holds no data

    const view = (await (await fetch(`${admin}/api/v1/cluster`, { headers: { authorization: `Bearer ${readToken}` } })).json()) as { workers: { endpoint: string; alive: boolean }[] };
    const endpoint = view.workers.find((w) => w.alive)?.endpoint as string;
    expect(await get(`http://${endpoint}/metrics`)).toBe(401);
    expect(await get(`http://${endpoint}/readyz`)).toBe(200); // joined, lease valid: ready, and open to probes
    expect(await get(`http://${endpoint}/api/v1/stats`)).toBe(401);
    expect(await get(`http://${endpoint}/api/v1/stats`, readToken)).toBe(200);
    const ingest = (token?: string) =>
      fetch(`http://${endpoint}/v1/topics/${input}/events`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify([{ key: 'a', value: { key: 'a', seq: 1 } }]),
      });
    expect((await ingest()).status).toBe(401);
    const refused = await ingest(readToken);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("token 'dashboard' has the read scope");
    expect((await ingest(adminToken)).status).toBe(200);
  });

  it('lets `eddy status` in with EDDY_TOKEN, and says why not without one', async () => {
    const env = { ...process.env, EDDY_TOKENS_FILE: '' };
    const ok = await run(process.execPath, ['bin/eddy.js', 'status', '--admin', cluster.adminUrl], { env: { ...env, EDDY_TOKEN: readToken } });
    expect(ok.stdout).toContain('all 12 tasks running');
    await expect(run(process.execPath, ['bin/eddy.js', 'status', '--admin', cluster.adminUrl], { env })).rejects.toThrow(/HTTP 401: this endpoint needs a bearer token.*EDDY_TOKEN/);
  });

  it('shows the dashboard in a browser given the token, and asks for one without', async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-background-networking'] });
    const asked = await browser.newPage();
    await asked.goto(`${cluster.adminUrl}/`);
    await asked.locator('#token-form').waitFor({ timeout: 15_000 });
    expect(await asked.locator('#connection').textContent()).toBe('needs a token');

    const page = await browser.newPage();
    await page.goto(`${cluster.adminUrl}/#token=${encodeURIComponent(readToken)}`);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(page.url()).not.toContain(readToken); // taken out of the address bar
    await expect.poll(() => page.locator('.task[data-state="running"]').count(), { timeout: 15_000 }).toBe(12);
    // The coordinator reads each worker's figures with its own token: reachable, with queue figures.
    await expect.poll(() => page.locator('#workers tbody').textContent(), { timeout: 15_000 }).not.toContain('unreachable');
  });

  it('logs no token in any process', () => {
    const logs = join(dir, 'logs');
    for (const name of readdirSync(logs)) {
      const text = readFileSync(join(logs, name), 'utf8');
      expect(text.includes(readToken) || text.includes(adminToken), `${name} holds a token`).toBe(false);
    }
  });
});

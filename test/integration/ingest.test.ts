import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { eosTopics, startEosCluster } from './eos-harness.ts';
import { readUntil, testKafka } from './support.ts';

describe('ingest endpoint on every worker (eos-check, real Kafka and NATS)', () => {
  const kafka = testKafka();
  const topics = eosTopics();
  let cluster: LocalCluster;
  let endpoints: string[];

  const post = (endpoint: string, query: string, body: unknown, topic = topics.input) =>
    fetch(`http://${endpoint}/v1/topics/${encodeURIComponent(topic)}/events${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${i % 20}`, value: { key: `${prefix}-${i % 20}`, seq: Math.floor(i / 20) + 1 } }));

  beforeAll(async () => {
    cluster = await startEosCluster(topics, 2);
    const view = await cluster.waitUntilRunning(60_000, 2);
    endpoints = view.workers.filter((w) => w.alive).map((w) => w.endpoint);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('answers wait=processed once every event was handled, on any worker', async () => {
    for (const [i, endpoint] of endpoints.entries()) {
      const response = await post(endpoint, '?wait=processed', events(`p${i}`, 200));
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ accepted: 200, wait: 'processed' });
    }
  });

  it('answers wait=committed only when the outputs are visible to read_committed readers', async () => {
    const response = await post(endpoints[0] as string, '?wait=committed', events('c', 100));
    expect(response.status).toBe(200);
    // Read right after the answer, with a short deadline: the outputs must already be there.
    const outputs = await readUntil(kafka, {
      topics: [topics.output], timeoutMs: 5_000,
      done: (r) => r.filter((o) => o.key?.toString().startsWith('c-')).length >= 100,
    });
    expect(outputs.filter((o) => o.key?.toString().startsWith('c-'))).toHaveLength(100);
  });

  it('answers wait=none once Kafka has the events', async () => {
    const response = await post(endpoints[1] as string, '', events('n', 10));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ accepted: 10, wait: 'none' });
  });

  it('names the bad field in a 400', async () => {
    const cases: [unknown, string][] = [
      [[{ key: 7, value: {} }], 'body[0].key'],
      [[{ key: 'a', value: {} }, { key: 'b' }], 'body[1].value'],
      [{ key: 'a', value: {} }, 'body'],
      [[{ key: 'a', value: 1, extra: true }], 'body[0].extra'],
    ];
    for (const [body, field] of cases) {
      const response = await post(endpoints[0] as string, '?wait=processed', body);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ field });
    }
    const badWait = await post(endpoints[0] as string, '?wait=eventually', events('x', 1));
    expect(badWait.status).toBe(400);
    expect(await badWait.json()).toMatchObject({ field: 'querystring.wait' });
    const badTimeout = await post(endpoints[0] as string, '?wait=processed&timeoutMs=999999', events('x', 1));
    expect(await badTimeout.json()).toMatchObject({ field: 'querystring.timeoutMs' });
    const notJson = await post(endpoints[0] as string, '', '[{"key": "a", ');
    expect(notJson.status).toBe(400);
  });

  it('refuses a body above the bound with 413 and an unknown topic with 404', async () => {
    const big = JSON.stringify([{ key: 'big', value: 'x'.repeat(1_100_000) }]);
    expect((await post(endpoints[0] as string, '', big)).status).toBe(413);
    const unknown = await post(endpoints[0] as string, '', events('u', 1), 'not.a.source');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ field: 'topic' });
  });

  it('answers 504 with a clear body when the acks do not come in time', async () => {
    const response = await post(endpoints[0] as string, '?wait=committed&timeoutMs=1', events('t', 50));
    expect(response.status).toBe(504);
    const body = (await response.json()) as { error: string; expected: number; reason: string };
    expect(body).toMatchObject({ error: 'timeout', expected: 50 });
    expect(body.reason).toMatch(/will still be processed/);
  });
});

// Bearer tokens on a real fastify instance (common/http-auth.ts): who may GET, who may POST,
// what stays open, and that no refusal or error repeats a token.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadTokens, requireTokens } from '../../common/http-auth.ts';
import { tempDir } from './task-harness.ts';

const readToken = 'read-token-0123456789abcdef';
const adminToken = 'admin-token-0123456789abcdef';

async function tokensFile(text: string): Promise<string> {
  const path = join(await tempDir(), 'tokens.yaml');
  writeFileSync(path, text);
  return path;
}

describe('bearer tokens (common/http-auth.ts)', () => {
  it('refuses without a valid token (401), a read token where admin is needed (403), and leaves /healthz and the page open', async () => {
    const tokens = loadTokens(await tokensFile(`tokens:\n  - { name: grafana, scope: read, token: ${readToken} }\n  - { name: ops, scope: admin, token: ${adminToken} }\n`));
    expect(tokens.clientToken).toBe(readToken);
    const app = Fastify();
    requireTokens(app, tokens);
    app.get('/api/v1/cluster', () => ({ ok: true }));
    app.post('/v1/topics/t/events', () => ({ accepted: 1 }));
    app.get('/healthz', () => ({ ok: true }));
    app.get('/', () => 'page');
    const call = async (method: 'GET' | 'POST', url: string, token?: string) => {
      const response = await app.inject({ method, url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, ...(method === 'POST' ? { payload: [] } : {}) });
      return { status: response.statusCode, body: response.body, authenticate: response.headers['www-authenticate'] };
    };
    expect(await call('GET', '/api/v1/cluster')).toMatchObject({ status: 401, authenticate: 'Bearer realm="eddy"' });
    expect((await call('GET', '/api/v1/cluster')).body).toContain('needs a bearer token');
    const wrong = await call('GET', '/api/v1/cluster', 'not-a-token-of-this-cluster');
    expect(wrong.status).toBe(401);
    expect(wrong.body).not.toContain('not-a-token-of-this-cluster');
    expect((await call('GET', '/api/v1/cluster', readToken)).status).toBe(200);
    expect((await call('GET', '/api/v1/cluster', adminToken)).status).toBe(200);
    const readPost = await call('POST', '/v1/topics/t/events', readToken);
    expect(readPost.status).toBe(403);
    expect(readPost.body).toContain("token 'grafana' has the read scope; POST /v1/topics/t/events needs admin");
    expect(readPost.body).not.toContain(readToken);
    expect((await call('POST', '/v1/topics/t/events', adminToken)).status).toBe(200);
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/')).status).toBe(200);
    await app.close();
  });

  it('leaves every endpoint open without a tokens file', async () => {
    const app = Fastify();
    requireTokens(app, undefined);
    app.get('/api/v1/cluster', () => ({ ok: true }));
    expect((await app.inject({ method: 'GET', url: '/api/v1/cluster' })).statusCode).toBe(200);
    await app.close();
  });

  it('names what is wrong with a tokens file without repeating a token', async () => {
    const short = await tokensFile('tokens:\n  - { name: x, scope: read, token: short-secret }\n');
    expect(() => loadTokens(short)).toThrow(/tokens file .*: 'tokens.0.token': a token must be at least 16 characters/);
    expect(() => loadTokens(short)).not.toThrow(/short-secret/);
    const scope = await tokensFile(`tokens:\n  - { name: x, scope: write, token: ${readToken} }\n`);
    expect(() => loadTokens(scope)).toThrow(/'tokens.0.scope'/);
    expect(() => loadTokens(scope)).not.toThrow(new RegExp(readToken));
  });
});

/**
 * The dashboard's HTTP side on the coordinator's admin server: the page at `/` (static files
 * shipped in page/, and uPlot from node_modules: nothing fetched from the internet), one snapshot
 * at `/api/v1/dashboard`, and a server-sent event per snapshot at `/api/v1/dashboard/events`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { DashboardFeed } from './dashboard-feed.ts';

const pageDir = join(dirname(fileURLToPath(import.meta.url)), 'page');
const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

const assets: Record<string, { path: string; type: string }> = {
  'dashboard.js': { path: join(pageDir, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { path: join(pageDir, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { path: join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { path: join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export function registerDashboard(app: FastifyInstance, feed: DashboardFeed): void {
  const page = readFileSync(join(pageDir, 'index.html'), 'utf8');
  const files = new Map(Object.entries(assets).map(([name, a]) => [name, { body: readFileSync(a.path), type: a.type }]));
  const headers = { 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'", 'x-content-type-options': 'nosniff' };
  app.get('/', (_request, reply) => reply.headers(headers).type('text/html; charset=utf-8').send(page));
  app.get<{ Params: { name: string } }>('/assets/:name', (request, reply) => {
    const file = files.get(request.params.name);
    if (file === undefined) return reply.code(404).send({ error: `no asset ${request.params.name}` });
    return reply.headers(headers).type(file.type).send(file.body);
  });
  app.get('/api/v1/dashboard', () => feed.latest());
  app.get('/api/v1/dashboard/events', (request, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (snapshot: unknown) => reply.raw.write(`data: ${JSON.stringify(snapshot)}\n\n`);
    send(feed.latest());
    const unsubscribe = feed.subscribe(send);
    request.raw.on('close', unsubscribe);
  });
}

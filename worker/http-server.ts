/**
 * A worker's HTTP endpoint (fastify): Prometheus metrics and the tasks it runs. Its address
 * is the `endpoint` the worker announces to the coordinator. Loopback unless configured.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface TaskSummary {
  task: number;
  state: string;
  queueDepth: number;
  recordsIn: number;
  recordsOut: number;
}

export async function startWorkerHttp(options: { host: string; port: number; registry: Registry; tasks: () => TaskSummary[] }): Promise<{ app: FastifyInstance; endpoint: string }> {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  app.get('/api/v1/tasks', () => options.tasks());
  app.get('/healthz', () => ({ ok: true }));
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { app, endpoint: `${options.host}:${port}` };
}

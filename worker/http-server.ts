/**
 * A worker's HTTP endpoint (fastify): the ingest endpoint, Prometheus metrics and the tasks it runs. Its address
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

export async function startWorkerHttp(options: {
  host: string;
  port: number;
  bodyLimitBytes: number;
  registry: Registry;
  tasks: () => TaskSummary[];
  /** Adds more routes (the ingest endpoint) before the server listens. */
  register?: (app: FastifyInstance) => void;
}): Promise<{ app: FastifyInstance; endpoint: string }> {
  // No type coercion and no silent removal of unknown fields: a bad request is answered 400.
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes, ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } });
  options.register?.(app);
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

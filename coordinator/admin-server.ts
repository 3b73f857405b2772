/**
 * The coordinator's admin HTTP API (fastify): the live dashboard at `/` (dashboard/), the
 * cluster as JSON for people and tools (`eddy status`), and Prometheus metrics. Loopback by
 * default.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { requireTokens, type HttpTokens } from '../common/http-auth.ts';
import type { Registry } from 'prom-client';
import type { CheckpointCoordinator } from './checkpoints/checkpoint-coordinator.ts';
import type { ClusterController } from './cluster-controller.ts';
import type { DashboardFeed } from './dashboard/dashboard-feed.ts';
import { registerDashboard } from './dashboard/dashboard-routes.ts';

export async function startAdminServer(options: {
  host: string;
  port: number;
  controller: ClusterController;
  checkpoints: CheckpointCoordinator;
  registry: Registry;
  dashboard?: DashboardFeed;
  tokens?: HttpTokens | undefined;
}): Promise<FastifyInstance> {
  // Dashboards hold event streams open: closing the server must end them, not wait for them.
  const app = Fastify({ logger: false, forceCloseConnections: true });
  requireTokens(app, options.tokens);
  if (options.dashboard !== undefined) registerDashboard(app, options.dashboard);
  app.get('/api/v1/cluster', () => options.controller.view());
  app.get('/api/v1/checkpoints', () => ({ latestCompleted: options.checkpoints.latestCompleted, recent: options.checkpoints.history.recent() }));
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  app.get('/healthz', () => ({ ok: true }));
  // Serving means ready: the coordinator listens only once its topics, checkpoints and control endpoint are up.
  app.get('/readyz', () => ({ ready: true }));
  await app.listen({ host: options.host, port: options.port });
  return app;
}

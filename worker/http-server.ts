/**
 * A worker's HTTP endpoint (fastify): the ingest endpoint, Prometheus metrics, the tasks it runs and
 * the figures the coordinator's dashboard reads. Its address
 * is the `endpoint` the worker announces to the coordinator. Loopback unless configured.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Histogram, Registry } from 'prom-client';
import { requireTokens, type HttpTokens } from '../common/http-auth.ts';

export interface TaskSummary {
  task: number;
  state: string;
  queueDepth: number;
  recordsIn: number;
  recordsOut: number;
  /** Records behind the partitions' high watermarks, summed over the task's topics, as of the latest fetch. */
  lag: number;
  /** Records this instance of the task sent to the dead-letter topic. */
  deadLetters: number;
}

/** A cumulative histogram as Prometheus keeps it: `counts[i]` observations ≤ `le[i]` seconds (the last `le` is "+Inf"). */
export interface HistogramSnapshot {
  le: string[];
  counts: number[];
  count: number;
  sum: number;
}

/** What the coordinator's dashboard reads from each worker (`GET /api/v1/stats`). */
export interface WorkerStats {
  tasks: TaskSummary[];
  /** `eddy_record_latency_seconds`: source record timestamp to the end of its handling. */
  recordLatency: HistogramSnapshot;
}

export async function startWorkerHttp(options: {
  host: string;
  port: number;
  bodyLimitBytes: number;
  registry: Registry;
  tasks: () => TaskSummary[];
  stats: () => Promise<WorkerStats>;
  /** Ready for traffic: joined the cluster and its lease holds (`/readyz` answers 503 otherwise). */
  ready?: () => boolean;
  /** Bearer tokens every route but /healthz requires (POST, the ingest endpoint, needs admin); none: open. */
  tokens?: HttpTokens | undefined;
  /** Adds more routes (the ingest endpoint) before the server listens. */
  register?: (app: FastifyInstance) => void;
}): Promise<{ app: FastifyInstance; endpoint: string }> {
  // No type coercion and no silent removal of unknown fields: a bad request is answered 400.
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimitBytes, ajv: { customOptions: { coerceTypes: false, removeAdditional: false } } });
  requireTokens(app, options.tokens);
  options.register?.(app);
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  app.get('/api/v1/tasks', () => options.tasks());
  app.get('/api/v1/stats', () => options.stats());
  app.get('/healthz', () => ({ ok: true }));
  app.get('/readyz', async (_request, reply) => {
    const ready = options.ready?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { app, endpoint: `${options.host}:${port}` };
}

/** A prom-client histogram (without labels) as cumulative bucket counts. */
export async function histogramSnapshot(histogram: Histogram): Promise<HistogramSnapshot> {
  const { values } = await histogram.get();
  const buckets = values.filter((v) => v.metricName?.endsWith('_bucket') === true);
  return {
    le: buckets.map((v) => String(v.labels.le)),
    counts: buckets.map((v) => v.value),
    count: values.find((v) => v.metricName?.endsWith('_count') === true)?.value ?? 0,
    sum: values.find((v) => v.metricName?.endsWith('_sum') === true)?.value ?? 0,
  };
}

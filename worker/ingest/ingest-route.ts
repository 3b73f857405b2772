/**
 * `POST /v1/topics/{topic}/events?wait=none|processed|committed&timeoutMs=N`: the synchronous
 * front door for load tests and services that need to know their events were handled. The
 * events go to Kafka (acks=all), partition by partition and stamped with references
 * (ingest-messages.ts, ingest-ref.ts), so events of one key keep their order; with `processed`
 * the answer comes once every event's actor has handled it, with `committed` once the
 * checkpoint covering it committed (its exactly-once outputs are visible). 504 on timeout: the
 * events were still written to Kafka and will be processed; 400 names the bad field; 413 above
 * the body bound.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Logger } from '../../common/logger.ts';
import type { WaitFor } from './ingest-ref.ts';
import { ingestMessages, type IngestEvent, type KeyPartitioner } from './ingest-messages.ts';
import { RequestTimeoutError, type PendingRequests } from './pending-requests.ts';
import type { ProduceCoalescer } from './produce-coalescer.ts';

export interface IngestOptions {
  /** This worker's node id: acks for its requests come to `eddy.ack.<node>`. */
  node: string;
  job: string;
  /** Topics the job reads; only these are accepted. */
  topics: ReadonlySet<string>;
  /** Writes to Kafka (acks=all), coalescing concurrent requests. */
  producer: ProduceCoalescer;
  /** The partitioner of a source topic (its partition count is looked up once). */
  partitionerOf(topic: string): Promise<KeyPartitioner>;
  pending: PendingRequests;
  eventsMax: number;
  timeoutMsDefault: number;
  timeoutMsMax: number;
  logger: Logger;
  /** Called once per answered request (metrics). */
  observe?(wait: WaitFor, status: number, events: number, seconds: number): void;
}

export function ingestSchema(eventsMax: number) {
  return {
    params: { type: 'object', properties: { topic: { type: 'string', minLength: 1 } }, required: ['topic'] },
    querystring: {
      type: 'object',
      properties: {
        wait: { type: 'string', enum: ['none', 'processed', 'committed'], default: 'none' },
        // A string: the validator does not coerce (so a body's 7 is never taken for "7").
        timeoutMs: { type: 'string', pattern: '^[0-9]{1,9}$' },
      },
      additionalProperties: false,
    },
    body: {
      type: 'array',
      minItems: 1,
      maxItems: eventsMax,
      items: {
        type: 'object',
        required: ['key', 'value'],
        additionalProperties: false,
        properties: {
          key: { type: ['string', 'null'] },
          value: {},
          headers: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  } as const;
}

export function registerIngestRoute(app: FastifyInstance, options: IngestOptions): void {
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation !== undefined) {
      const issue = error.validation[0];
      const where = `${error.validationContext ?? 'body'}${(issue?.instancePath ?? '').replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.')}`;
      const field = issue?.keyword === 'required' || issue?.keyword === 'additionalProperties' ? `${where}.${String(Object.values(issue.params)[0])}` : where;
      return reply.code(400).send({ error: 'bad request', field, reason: issue?.message ?? error.message });
    }
    const status = error.statusCode ?? 500;
    return reply.code(status).send({ error: status === 413 ? 'body too large' : 'error', reason: error.message });
  });

  app.post<{ Params: { topic: string }; Querystring: { wait: WaitFor; timeoutMs?: string }; Body: IngestEvent[] }>(
    '/v1/topics/:topic/events',
    { schema: ingestSchema(options.eventsMax) },
    async (request, reply) => {
      const started = performance.now();
      const { topic } = request.params;
      const { wait } = request.query;
      const events = request.body;
      const respond = (status: number, body: unknown) => {
        options.observe?.(wait, status, events.length, (performance.now() - started) / 1000);
        return reply.code(status).send(body);
      };
      if (!options.topics.has(topic)) {
        return respond(404, { error: 'unknown topic', field: 'topic', reason: `'${topic}' is not a source topic of job '${options.job}'` });
      }
      const timeoutMs = request.query.timeoutMs === undefined ? options.timeoutMsDefault : Number(request.query.timeoutMs);
      if (timeoutMs < 1 || timeoutMs > options.timeoutMsMax) {
        return respond(400, { error: 'bad request', field: 'querystring.timeoutMs', reason: `must be from 1 to ${options.timeoutMsMax}` });
      }
      const id = randomUUID().slice(0, 13);
      const acked = wait === 'none' ? undefined : options.pending.wait(id, events.length, timeoutMs);
      acked?.catch(() => undefined); // observed below; never an unhandled rejection
      try {
        const partitionOf = await options.partitionerOf(topic);
        const messages = ingestMessages(topic, events, partitionOf, wait === 'none' ? undefined : { node: options.node, request: id, wait });
        await options.producer.send(messages);
      } catch (err) {
        options.pending.fail(id, err as Error);
        options.logger.warn({ topic, err: (err as Error).message }, 'ingest: producing to Kafka failed');
        return respond(503, { error: 'kafka unavailable', reason: (err as Error).message });
      }
      try {
        await acked;
      } catch (err) {
        if (err instanceof RequestTimeoutError) {
          return respond(504, { error: 'timeout', wait, acked: err.acked, expected: err.expected, reason: `${err.message}; the events are in Kafka and will still be processed` });
        }
        throw err;
      }
      return respond(200, { accepted: events.length, wait, elapsedMs: Math.round(performance.now() - started) });
    },
  );
}

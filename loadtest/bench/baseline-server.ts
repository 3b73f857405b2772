/**
 * The benchmark's baseline: the same end-to-end shape as Eddy's `wait=processed` ingest, with
 * nothing of Eddy in it. An HTTP endpoint with Eddy's ingest contract produces a request's
 * events to an input topic; a kafkajs consumer of that topic produces each batch onward to an
 * output topic (a consume -> produce passthrough); the request is answered once every one of its
 * events has been produced onward. k6 drives it with the same script as Eddy, so the ratio of
 * the two is what Eddy's dispatch, actors, state and checkpoints cost over bare Kafka round trips.
 *
 * Deliberately lean, so the comparison flatters the baseline rather than Eddy: no state, no
 * transactions, acks=-1 (like any durable producer) but no idempotence, one process.
 *
 * Runs as its own process (so its CPU and memory are measured apart from the bench); prints one
 * JSON line `{"ready":true,"port":n}` on stdout once its consumer has joined. Environment:
 * BENCH_BROKERS, BENCH_INPUT_TOPIC, BENCH_OUTPUT_TOPIC, BENCH_GROUP, BENCH_PORT (0 = any).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { logLevel, Kafka, type Message } from 'kafkajs';

const maxBodyBytes = 1 << 20;
const requestHeader = 'eddy-bench-request';

interface Pending {
  remaining: number;
  accepted: number;
  startedAt: number;
  wait: string;
  response: ServerResponse;
  timer: NodeJS.Timeout;
}

interface IngestEvent {
  key: string;
  value: unknown;
  headers?: Record<string, string>;
}

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`baseline-server: ${name} is required`);
  return value;
}

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
const kafka = new Kafka({ brokers: env('BENCH_BROKERS').split(','), clientId: 'eddy-bench-baseline', logLevel: logLevel.WARN });
const inputTopic = env('BENCH_INPUT_TOPIC');
const outputTopic = env('BENCH_OUTPUT_TOPIC');
const producer = kafka.producer({ allowAutoTopicCreation: false });
const consumer = kafka.consumer({ groupId: env('BENCH_GROUP'), maxWaitTimeInMs: 50, allowAutoTopicCreation: false });
const pending = new Map<number, Pending>();
let nextRequest = 1;

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function finish(id: number, status: number, body: unknown): void {
  const p = pending.get(id);
  if (p === undefined) return;
  pending.delete(id);
  clearTimeout(p.timer);
  answer(p.response, status, body);
}

function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > maxBodyBytes ? 'too-large' : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** The events of a body, or the name of the first bad field. */
function parseEvents(body: Buffer): IngestEvent[] | { field: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { field: 'body' };
  }
  if (!Array.isArray(parsed)) return { field: 'body' };
  for (const [i, event] of parsed.entries()) {
    if (typeof event !== 'object' || event === null) return { field: `[${i}]` };
    if (typeof (event as Record<string, unknown>).key !== 'string') return { field: `[${i}].key` };
    if (!('value' in event)) return { field: `[${i}].value` };
  }
  return parsed as IngestEvent[];
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://baseline');
  if (request.method !== 'POST' || !/^\/v1\/topics\/[^/]+\/events$/.test(url.pathname)) {
    answer(response, 404, { error: 'not found' });
    return;
  }
  const wait = url.searchParams.get('wait') ?? 'processed';
  const timeoutMs = Number(url.searchParams.get('timeoutMs') ?? 5000);
  const body = await readBody(request);
  if (body === 'too-large') {
    answer(response, 413, { error: `body above ${maxBodyBytes} bytes` });
    return;
  }
  const events = parseEvents(body);
  if (!Array.isArray(events)) {
    answer(response, 400, { error: 'bad field', field: events.field });
    return;
  }
  const id = nextRequest++;
  const startedAt = performance.now();
  const messages: Message[] = events.map((e) => ({
    key: e.key,
    value: JSON.stringify(e.value),
    headers: { ...e.headers, [requestHeader]: String(id) },
  }));
  // 'committed' has no meaning without checkpoints: the baseline treats it as 'processed'.
  const untilProcessed = wait !== 'none' && events.length > 0;
  if (untilProcessed) {
    const timer = setTimeout(() => finish(id, 504, { error: `not processed within ${timeoutMs} ms` }), timeoutMs);
    pending.set(id, { remaining: events.length, accepted: events.length, startedAt, wait, response, timer });
  }
  try {
    await producer.send({ topic: inputTopic, acks: -1, messages });
  } catch (err) {
    if (untilProcessed) finish(id, 503, { error: (err as Error).message });
    else answer(response, 503, { error: (err as Error).message });
    return;
  }
  if (!untilProcessed) answer(response, 200, { accepted: events.length, wait, elapsedMs: Math.round(performance.now() - startedAt) });
}

async function main(): Promise<void> {
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: inputTopic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    // Offsets resolve when eachBatch returns (kafkajs' eachBatchAutoResolve).
    eachBatch: async (payload) => {
      const { batch } = payload;
      if (batch.messages.length === 0) return;
      await producer.send({
        topic: outputTopic,
        acks: -1,
        messages: batch.messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      for (const m of batch.messages) {
        const id = Number(m.headers?.[requestHeader]?.toString());
        const p = pending.get(id);
        if (p !== undefined && --p.remaining === 0) {
          finish(id, 200, { accepted: p.accepted, wait: p.wait, elapsedMs: Math.round(performance.now() - p.startedAt) });
        }
      }
      await payload.heartbeat();
    },
  });
  await joined;
  const server = createServer((request, response) => {
    handle(request, response).catch((err: unknown) => answer(response, 500, { error: String(err) }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(Number(process.env.BENCH_PORT ?? 0), '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
  const stop = (): void => {
    server.close();
    for (const id of [...pending.keys()]) finish(id, 503, { error: 'shutting down' });
    Promise.all([consumer.disconnect(), producer.disconnect()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`baseline-server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

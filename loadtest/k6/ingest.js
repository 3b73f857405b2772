// Eddy ingest load: POSTs batches of events to the workers' ingest endpoints at a constant
// arrival rate and measures each request until Eddy answers (the worker answers once every
// event of the request was handled by its actor, or its checkpoint committed: see WAIT).
//
// A plain k6 script (k6 runs it, not Node). Environment:
//   EDDY_ENDPOINTS  comma list of host:port (required); requests go round-robin over them
//   EDDY_TOPIC      topic to ingest into (required)
//   WAIT            processed | committed | none (default processed)
//   RATE            events per second (default 1000); requests/s = RATE / BATCH
//   BATCH           events per request (default 100)
//   DURATION        k6 duration, e.g. 60s (default 60s)
//   KEYS            distinct keys k0..k<KEYS-1> (default 1000)
//   TIMEOUT_MS      the endpoint's timeoutMs (default 5000); the HTTP timeout is this + 5 s
//   LATENCY_S       expected latency in s, to pre-allocate VUs (default 1 for processed/none, 3 for committed)
//   P95_LIMIT_MS    the p95 threshold for WAIT=processed, in ms (default 100)
//   WINDOW_S        the summary also has the latency of each window of this many seconds (default 10),
//                   by request start: start-up transients and steady state apart
//   SUMMARY_PATH    where handleSummary writes the end-of-test summary as JSON (optional)
//
// Thresholds: no failed request ever; with WAIT=processed also p95 < P95_LIMIT_MS (100 ms). For committed
// the p95 is reported, never judged (it is about one checkpoint interval by design).
// A 10-second smoke is this script with DURATION=10s and a low RATE.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';

function intEnv(name, fallback, min) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return n;
}

function requiredEnv(name) {
  const raw = __ENV[name];
  if (raw === undefined || raw.trim() === '') throw new Error(`${name} is required`);
  return raw.trim();
}

const endpoints = requiredEnv('EDDY_ENDPOINTS').split(',').map((e) => e.trim()).filter((e) => e !== '');
const topic = requiredEnv('EDDY_TOPIC');
const wait = __ENV.WAIT === undefined || __ENV.WAIT === '' ? 'processed' : __ENV.WAIT;
if (!['processed', 'committed', 'none'].includes(wait)) throw new Error(`WAIT must be processed, committed or none, got '${wait}'`);
const rate = intEnv('RATE', 1000, 1);
const batch = intEnv('BATCH', 100, 1);
const keys = intEnv('KEYS', 1000, 1);
const timeoutMs = intEnv('TIMEOUT_MS', 5000, 1);
const duration = __ENV.DURATION === undefined || __ENV.DURATION === '' ? '60s' : __ENV.DURATION;
const latencyS = Number(__ENV.LATENCY_S || (wait === 'committed' ? 3 : 1));
const p95LimitMs = intEnv('P95_LIMIT_MS', 100, 1);
const windowS = intEnv('WINDOW_S', 10, 1);

function durationSeconds(text) {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (match === null || text === '') throw new Error(`DURATION must look like 60s, 2m or 1m30s, got '${text}'`);
  return Number(match[1] || 0) * 60 + Number(match[2] || 0);
}
const windows = Math.max(1, Math.ceil(durationSeconds(duration) / windowS));

// Requests per second, exactly RATE / BATCH: whole requests per second when it divides,
// otherwise RATE requests per BATCH seconds.
const divides = rate % batch === 0;
const requestsPerSec = rate / batch;
const vus = Math.max(2, Math.ceil(requestsPerSec * latencyS) + 2);
// No request outlives TIMEOUT_MS by much (the endpoint answers 504), so this many VUs are never
// all busy: iterations are dropped only while k6 allocates VUs beyond the pre-allocated ones.
const maxVus = Math.max(vus, Math.ceil(requestsPerSec * (timeoutMs / 1000 + 1)) + 2);

const urls = endpoints.map(
  (e) => `http://${e}/v1/topics/${encodeURIComponent(topic)}/events?wait=${wait}&timeoutMs=${timeoutMs}`,
);

const thresholds = { http_req_failed: ['rate==0'] };
// A threshold on the tagged sub-metric also makes k6 report it in the summary.
thresholds[`http_req_duration{wait:${wait}}`] = wait === 'processed' ? [`p(95)<${p95LimitMs}`] : ['max>=0'];
for (let i = 0; i < windows; i++) thresholds[`http_req_duration{window:${i}}`] = ['max>=0'];

export const options = {
  scenarios: {
    ingest: {
      executor: 'constant-arrival-rate',
      rate: divides ? requestsPerSec : rate,
      timeUnit: divides ? '1s' : `${batch}s`,
      duration,
      preAllocatedVUs: vus,
      maxVUs: maxVus,
      gracefulStop: `${Math.ceil(timeoutMs / 1000) + 5}s`,
    },
  },
  thresholds,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'count'],
  discardResponseBodies: false,
};

const eventsSent = new Counter('events_sent');
const eventsAccepted = new Counter('events_accepted');
const serverElapsed = new Trend('server_elapsed_ms', true);

export default function () {
  const started = exec.instance.currentTestRunDuration;
  const iteration = exec.scenario.iterationInTest;
  const first = iteration * batch;
  // The body is built as text: objects plus JSON.stringify in k6's JavaScript engine cost
  // several times more CPU, which the machine under test would pay for.
  const events = new Array(batch);
  for (let i = 0; i < batch; i++) {
    const seq = first + i + 1;
    const key = `k${seq % keys}`;
    events[i] = `{"key":"${key}","value":{"key":"${key}","seq":${seq}}}`;
  }
  const url = urls[iteration % urls.length];
  const res = http.post(url, `[${events.join(',')}]`, {
    headers: { 'content-type': 'application/json' },
    tags: { wait, name: 'ingest', window: String(Math.min(windows - 1, Math.floor(started / 1000 / windowS))) },
    timeout: `${timeoutMs + 5000}ms`,
  });
  eventsSent.add(batch);
  const ok = check(res, { 'status 200': (r) => r.status === 200 });
  if (ok) {
    let accepted = batch;
    let elapsed;
    try {
      const body = res.json();
      if (typeof body.accepted === 'number') accepted = body.accepted;
      if (typeof body.elapsedMs === 'number') elapsed = body.elapsedMs;
    } catch (_) {
      // a 200 without a JSON body still counts its events; the status check already passed
      accepted = batch;
    }
    eventsAccepted.add(accepted);
    if (elapsed !== undefined) serverElapsed.add(elapsed);
  } else if (exec.scenario.iterationInTest < 5 || res.status === 0) {
    console.warn(`ingest: ${url} answered ${res.status}: ${String(res.body).slice(0, 200)}`);
  }
}

function fmt(metric, stat) {
  const v = metric && metric.values ? metric.values[stat] : undefined;
  return v === undefined ? '-' : Number(v).toFixed(1);
}

export function handleSummary(data) {
  const d = data.metrics.http_req_duration;
  const reqs = data.metrics.http_reqs ? data.metrics.http_reqs.values.count : 0;
  const failed = data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0;
  const dropped = data.metrics.dropped_iterations ? data.metrics.dropped_iterations.values.count : 0;
  const accepted = data.metrics.events_accepted ? data.metrics.events_accepted.values.count : 0;
  const text =
    `ingest wait=${wait} rate=${rate}/s batch=${batch} duration=${duration}: ` +
    `${reqs} requests, ${failed} failed, ${dropped} dropped iterations, ${accepted} events accepted; ` +
    `latency ms p50 ${fmt(d, 'med')} p95 ${fmt(d, 'p(95)')} p99 ${fmt(d, 'p(99)')} max ${fmt(d, 'max')}\n`;
  const out = { stdout: text };
  if (__ENV.SUMMARY_PATH) out[__ENV.SUMMARY_PATH] = JSON.stringify(data, null, 2);
  return out;
}

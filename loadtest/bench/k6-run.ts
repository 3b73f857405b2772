/**
 * One k6 run of loadtest/k6/ingest.js: spawns k6 with the load as environment, follows it live
 * through k6's REST API (`--address`), and turns its end-of-test summary (written by the
 * script's handleSummary) into the figures the bench reports.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/local/local-cluster.ts';

export const ingestScript = fileURLToPath(new URL('../k6/ingest.js', import.meta.url));

export type Wait = 'processed' | 'committed' | 'none';

export interface K6Load {
  /** Names the summary and log files. */
  name: string;
  endpoints: string[];
  topic: string;
  wait: Wait;
  /** Events per second. */
  rate: number;
  batch: number;
  durationSec: number;
  keys: number;
  /** The endpoint's `timeoutMs`. */
  timeoutMs: number;
  /** k6's threshold on p95 (only judged for `processed`). */
  p95LimitMs: number;
}

export interface LatencyMs {
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LatencyWindow {
  fromSec: number;
  requests: number;
  p50: number;
  p95: number;
  max: number;
}

/** Width of the latency windows (the script's WINDOW_S). */
export const windowSec = 10;

export interface K6Figures {
  requests: number;
  failedRequests: number;
  /** Iterations k6 could not start on time (no free VU): the offered rate fell short. */
  droppedIterations: number;
  /** Most VUs k6 had (each runs one request at a time). */
  vusMax: number;
  eventsSent: number;
  eventsAccepted: number;
  achievedEventsPerSec: number;
  latencyMs: LatencyMs;
  /** Latency of the requests started in each `windowSec` window of the run, in order. */
  windows: LatencyWindow[];
  /** `elapsedMs` the endpoint itself reported, when it did. */
  serverElapsedMs: LatencyMs | undefined;
  /** Every threshold of the script held (no failed request; p95 under the limit for processed). */
  thresholdsPassed: boolean;
  testRunDurationMs: number;
  summaryFile: string;
  logFile: string;
}

/** What k6 reports while it runs. */
export interface K6Progress {
  requests: number;
  failedRate: number;
  p95Ms: number | undefined;
  vus: number;
}

export interface K6Run {
  pid: number | undefined;
  /** Live figures from k6's REST API; undefined while it starts or if it does not answer. */
  progress(): Promise<K6Progress | undefined>;
  done: Promise<K6Figures>;
  /** SIGTERM (k6 stops gracefully and still writes its summary). */
  stop(): void;
}

/** k6 exit code when the run finished but a threshold failed: a result, not an error. */
const thresholdsFailedExitCode = 99;

export async function startK6(k6: string, load: K6Load, dir: string): Promise<K6Run> {
  const apiPort = await freePort();
  const summaryFile = join(dir, `k6-${load.name}.summary.json`);
  const logFile = join(dir, 'logs', `k6-${load.name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(k6, ['run', '--quiet', '--no-usage-report', '--address', `127.0.0.1:${apiPort}`, ingestScript], {
    env: {
      ...process.env,
      K6_NO_USAGE_REPORT: 'true',
      EDDY_ENDPOINTS: load.endpoints.join(','),
      EDDY_TOPIC: load.topic,
      WAIT: load.wait,
      RATE: String(load.rate),
      BATCH: String(load.batch),
      DURATION: `${load.durationSec}s`,
      KEYS: String(load.keys),
      TIMEOUT_MS: String(load.timeoutMs),
      P95_LIMIT_MS: String(load.p95LimitMs),
      WINDOW_S: String(windowSec),
      SUMMARY_PATH: summaryFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  const done = new Promise<K6Figures>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      log.end(() => {
        if (code !== 0 && code !== thresholdsFailedExitCode && signal !== 'SIGTERM') {
          reject(new Error(`k6 (${load.name}) failed with ${code ?? signal}; last lines of ${logFile}:\n${tail(logFile)}`));
          return;
        }
        try {
          resolve(readSummary(summaryFile, logFile, load));
        } catch (err) {
          reject(new Error(`k6 (${load.name}): no usable summary in ${summaryFile} (${(err as Error).message}); log ${logFile}:\n${tail(logFile)}`));
        }
      });
    });
  });
  return {
    pid: child.pid,
    progress: () => k6Progress(apiPort),
    done,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

interface SummaryMetric {
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

interface Summary {
  metrics: Record<string, SummaryMetric | undefined>;
  state?: { testRunDurationMs?: number };
}

function latency(metric: SummaryMetric | undefined): LatencyMs | undefined {
  if (metric === undefined || (metric.values.count ?? 1) === 0) return undefined;
  const v = (stat: string): number => round1(metric.values[stat] ?? Number.NaN);
  return { avg: v('avg'), p50: v('med'), p95: v('p(95)'), p99: v('p(99)'), max: v('max') };
}

function latencyWindows(metrics: Summary['metrics']): LatencyWindow[] {
  const windows: LatencyWindow[] = [];
  for (let i = 0; ; i++) {
    const metric = metrics[`http_req_duration{window:${i}}`];
    if (metric === undefined) return windows;
    const v = (stat: string): number => round1(metric.values[stat] ?? 0);
    windows.push({ fromSec: i * windowSec, requests: metric.values.count ?? 0, p50: v('med'), p95: v('p(95)'), max: v('max') });
  }
}

function readSummary(summaryFile: string, logFile: string, load: K6Load): K6Figures {
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
  const m = summary.metrics;
  const count = (name: string, stat = 'count'): number => m[name]?.values[stat] ?? 0;
  const testRunDurationMs = summary.state?.testRunDurationMs ?? load.durationSec * 1000;
  const eventsAccepted = count('events_accepted');
  const thresholdsPassed = Object.values(m).every((metric) => Object.values(metric?.thresholds ?? {}).every((t) => t.ok));
  return {
    requests: count('http_reqs'),
    failedRequests: count('http_req_failed', 'passes'),
    droppedIterations: count('dropped_iterations'),
    vusMax: count('vus_max', 'max'),
    eventsSent: count('events_sent'),
    eventsAccepted,
    // Over the whole run, tail included: the rate at which events were actually confirmed.
    achievedEventsPerSec: Math.round(eventsAccepted / (testRunDurationMs / 1000)),
    latencyMs: latency(m.http_req_duration) ?? { avg: 0, p50: 0, p95: 0, p99: 0, max: 0 },
    windows: latencyWindows(m),
    serverElapsedMs: latency(m.server_elapsed_ms),
    thresholdsPassed,
    testRunDurationMs: Math.round(testRunDurationMs),
    summaryFile,
    logFile,
  };
}

interface ApiMetric {
  id: string;
  attributes: { sample: Record<string, number> };
}

async function k6Progress(apiPort: number): Promise<K6Progress | undefined> {
  try {
    const get = async <T>(path: string): Promise<T> => {
      const response = await fetch(`http://127.0.0.1:${apiPort}${path}`, { signal: AbortSignal.timeout(1_000) });
      if (!response.ok) throw new Error(`k6 API ${path}: ${response.status}`);
      return (await response.json()) as T;
    };
    const [metrics, status] = await Promise.all([
      get<{ data: ApiMetric[] }>('/v1/metrics'),
      get<{ data: { attributes: { vus: number } } }>('/v1/status'),
    ]);
    const sample = (id: string): Record<string, number> | undefined => metrics.data.find((d) => d.id === id)?.attributes.sample;
    return {
      requests: sample('http_reqs')?.count ?? 0,
      failedRate: sample('http_req_failed')?.rate ?? 0,
      p95Ms: sample('http_req_duration')?.['p(95)'],
      vus: status.data.attributes.vus,
    };
  } catch {
    return undefined;
  }
}

/** Waits for a run, stopping it if `signal` aborts; the figures of a stopped run still come back. */
export async function awaitK6(run: K6Run, signal: AbortSignal | undefined): Promise<K6Figures> {
  const onAbort = (): void => run.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await run.done;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

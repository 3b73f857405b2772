import { describe, expect, it } from 'vitest';
import type { Registry } from 'prom-client';
import { createCoordinatorMetrics } from '../../coordinator/metrics.ts';
import { createWorkerMetrics } from '../../worker/metrics.ts';
import type { SourceRecord } from '../../worker/thread-protocol.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of Prometheus text exposition (enough of the format for prom-client's output). */
function samplesOf(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key ?? ''] = value ?? '';
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function record(timestamp: number, offset = 0): SourceRecord {
  return { topic: 'orders', partition: 3, offset: String(offset), timestamp, key: null, value: null };
}

/** Names default collectors (prom-client's collectDefaultMetrics) register. */
const defaultMetric = /^(process|nodejs)_/;

async function expectConventionalNames(registry: Registry): Promise<void> {
  const metrics = await registry.getMetricsAsJSON();
  expect(metrics.length).toBeGreaterThan(0);
  for (const metric of metrics) {
    // prom-client's typings say a numeric enum; at run time `type` is 'counter', 'gauge', ...
    const type = String(metric.type);
    const where = `${metric.name} (${type})`;
    expect(/^eddy_[a-z][a-z0-9_]*$/.test(metric.name) || defaultMetric.test(metric.name), `${where}: eddy_ prefix or a default metric`).toBe(true);
    if (type === 'counter') expect(metric.name, `${where}: counters end in _total`).toMatch(/_total$/);
    // prom-client's own nodejs_active_resources_total is a gauge; hold only Eddy's names to this.
    if (!metric.name.startsWith('eddy_')) continue;
    expect(metric.name.endsWith('_total'), `${where}: _total only on counters`).toBe(type === 'counter');
    expect(metric.help.length, `${where}: help text`).toBeGreaterThan(10);
    if (type === 'histogram') expect(metric.name, `${where}: unit suffix`).toMatch(/_(seconds|bytes|records)$/);
  }
}

describe('worker metrics', () => {
  it('exposes per-task counters and gauges with the task and worker labels', async () => {
    const metrics = createWorkerMetrics('w1');
    metrics.recordsIn.inc({ task: '3' }, 5);
    metrics.recordsOut.inc({ task: '3' }, 2);
    metrics.deadLetters.inc({ task: '3' });
    metrics.commits.inc({ task: '3' });
    metrics.barriers.inc({ task: '3' });
    metrics.restores.inc({ task: '3', result: 'ok' });
    metrics.pendingOutputs.set({ task: '3' }, 17);
    metrics.snapshotBytes.set({ task: '3' }, 4096);
    metrics.setConsumerLag(3, 'orders', 42);
    const samples = samplesOf(await metrics.registry.metrics());
    const task = { task: '3', role: 'worker', worker: 'w1' };
    expect(valueOf(samples, 'eddy_task_records_in_total', task)).toBe(5);
    expect(valueOf(samples, 'eddy_task_records_out_total', task)).toBe(2);
    expect(valueOf(samples, 'eddy_task_dead_letters_total', task)).toBe(1);
    expect(valueOf(samples, 'eddy_task_commits_total', task)).toBe(1);
    expect(valueOf(samples, 'eddy_task_barriers_total', task)).toBe(1);
    expect(valueOf(samples, 'eddy_task_restores_total', { ...task, result: 'ok' })).toBe(1);
    expect(valueOf(samples, 'eddy_task_pending_outputs', task)).toBe(17);
    expect(valueOf(samples, 'eddy_task_snapshot_bytes', task)).toBe(4096);
    expect(valueOf(samples, 'eddy_consumer_lag_records', { ...task, topic: 'orders' })).toBe(42);
  });

  it('observes record latency from the Kafka timestamp, skipping records without one', async () => {
    const metrics = createWorkerMetrics('w1');
    const nowMs = 1_700_000_000_000;
    metrics.observeRecordLatency([record(nowMs - 20), record(nowMs - 3_000), record(0), record(nowMs + 50)], nowMs);
    const samples = samplesOf(await metrics.registry.metrics());
    const bucket = (le: string): number | undefined => valueOf(samples, 'eddy_record_latency_seconds_bucket', { le });
    expect(valueOf(samples, 'eddy_record_latency_seconds_count')).toBe(3);
    expect(valueOf(samples, 'eddy_record_latency_seconds_sum')).toBeCloseTo(3.02);
    expect(bucket('0.005')).toBe(1); // the clock-skewed record, clamped to 0
    expect(bucket('0.025')).toBe(2);
    expect(bucket('2')).toBe(2);
    expect(bucket('5')).toBe(3);
    expect(bucket('+Inf')).toBe(3);
    expect(samples.find((s) => s.name === 'eddy_record_latency_seconds_count')?.labels).toEqual({ role: 'worker', worker: 'w1' });
  });

  it('has ingest metrics by wait mode, with fine buckets between 5 and 250 ms', async () => {
    const metrics = createWorkerMetrics('w1');
    metrics.ingestRequests.inc({ wait: 'processed', code: '200' });
    metrics.ingestRequests.inc({ wait: 'committed', code: '504' });
    metrics.ingestEvents.inc({ wait: 'processed' }, 100);
    metrics.ingestAcks.inc(100);
    metrics.ingestRequestSeconds.observe({ wait: 'processed' }, 0.012);
    const text = await metrics.registry.metrics();
    const samples = samplesOf(text);
    expect(text).toContain('# TYPE eddy_ingest_request_duration_seconds histogram');
    expect(valueOf(samples, 'eddy_ingest_requests_total', { wait: 'committed', code: '504' })).toBe(1);
    expect(valueOf(samples, 'eddy_ingest_events_total', { wait: 'processed' })).toBe(100);
    expect(valueOf(samples, 'eddy_ingest_acks_total')).toBe(100);
    const bounds = samples.filter((s) => s.name === 'eddy_ingest_request_duration_seconds_bucket').map((s) => Number(s.labels.le));
    expect(bounds.filter((b) => b >= 0.005 && b <= 0.25).length).toBeGreaterThanOrEqual(10);
    expect(valueOf(samples, 'eddy_ingest_request_duration_seconds_bucket', { wait: 'processed', le: '0.01' })).toBe(0);
    expect(valueOf(samples, 'eddy_ingest_request_duration_seconds_bucket', { wait: 'processed', le: '0.015' })).toBe(1);
  });

  it('forgetTask drops the task\'s gauges and keeps its counters', async () => {
    const metrics = createWorkerMetrics('w1');
    for (const task of ['3', '4']) {
      metrics.queueRecords.set({ task }, 10);
      metrics.actorsActive.set({ task }, 10);
      metrics.pendingOutputs.set({ task }, 10);
      metrics.snapshotBytes.set({ task }, 10);
      metrics.recordsIn.inc({ task });
    }
    metrics.setConsumerLag(3, 'orders', 1);
    metrics.setConsumerLag(3, 'order_items', 1);
    metrics.forgetTask(3);
    const samples = samplesOf(await metrics.registry.metrics());
    const ofTask = (task: string) => samples.filter((s) => s.labels.task === task).map((s) => s.name);
    expect(ofTask('3')).toEqual(['eddy_task_records_in_total']);
    expect(ofTask('4')).toHaveLength(5);
  });

  it('names every metric by convention: eddy_ prefix, _total on counters, units on histograms', async () => {
    await expectConventionalNames(createWorkerMetrics('w1').registry);
    await expectConventionalNames(createCoordinatorMetrics(() => undefined).registry);
  });
});

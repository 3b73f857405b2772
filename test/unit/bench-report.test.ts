import { describe, expect, it } from 'vitest';
import { rampFailure, ratio, type BenchResults, type ScenarioResult } from '../../loadtest/bench/bench-results.ts';
import { benchMarkdown } from '../../loadtest/bench/report.ts';

function scenario(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    name: 'processed', target: 'eddy', wait: 'processed', targetEventsPerSec: 10_000, batch: 100, durationSec: 60,
    requests: 6_000, failedRequests: 0, droppedIterations: 0, vusMax: 102, eventsSent: 600_000, eventsAccepted: 600_000,
    achievedEventsPerSec: 9_990, latencyMs: { avg: 20, p50: 18, p95: 40, p99: 70, max: 120 }, serverElapsedMs: undefined,
    windows: [{ fromSec: 0, requests: 3_000, p50: 20, p95: 60, max: 120 }, { fromSec: 30, requests: 3_000, p50: 15, p95: 30, max: 50 }],
    thresholdsPassed: true, testRunDurationMs: 60_060, loadAvg1mBefore: 1,
    processes: { 'worker-1': { pid: 10, samples: 60, cpuPctAvg: 40, cpuPctMax: 60, rssMbAvg: 300, rssMbMax: 320 }, coordinator: { pid: 9, samples: 60, cpuPctAvg: 2, cpuPctMax: 5, rssMbAvg: 100, rssMbMax: 110 } },
    machineCpu: { samples: 60, cpuPctAvg: 150, cpuPctMax: 190, othersCpuPctAvg: 5, othersCpuPctMax: 20 },
    k6Summary: 'k6.json', k6Log: 'k6.log',
    ...overrides,
  };
}

describe('ratio', () => {
  it('divides Eddy by the baseline for p95 latency and achieved throughput', () => {
    const baseline = scenario({ name: 'baseline', target: 'baseline', latencyMs: { avg: 10, p50: 9, p95: 20, p99: 30, max: 40 }, achievedEventsPerSec: 10_000 });
    expect(ratio(scenario(), baseline)).toEqual({ p95Latency: 2, achievedThroughput: 1 });
  });

  it('is null when either side did not run', () => {
    expect(ratio(undefined, scenario())).toBeNull();
    expect(ratio(scenario(), undefined)).toBeNull();
  });
});

describe('rampFailure', () => {
  it('passes a step within every limit', () => {
    expect(rampFailure(scenario(), 100)).toBeUndefined();
  });

  it.each([
    [{ failedRequests: 1 }, 'failed-requests'],
    [{ latencyMs: { avg: 50, p50: 40, p95: 100, p99: 150, max: 200 } }, 'p95-over-limit'],
    [{ droppedIterations: 61 }, 'dropped-iterations'],
    [{ achievedEventsPerSec: 9_400 }, 'throughput-short'],
  ] as const)('fails %o as %s', (overrides, failure) => {
    expect(rampFailure(scenario(overrides), 100)).toBe(failure);
  });
});

describe('benchMarkdown', () => {
  it('has a row per scenario, the Eddy CPU sum and the ramp verdict', () => {
    const results: BenchResults = {
      startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:05:00.000Z', durationSec: 300,
      machine: { cpus: 2, memoryGb: 24, loadAvg1mAtStart: 0.5, node: 'v20', k6: 'v1.8.1' },
      settings: { rate: 10_000, durationSec: 60, batch: 100, keys: 1_000, workers: 1, threadsPerWorker: null, scenarios: ['processed', 'ramp'], timeoutMs: 5_000, p95LimitMs: 100, warmupSec: 10 },
      cluster: { topicPrefix: 'eddy.bench.1', dir: '/tmp/x' },
      scenarios: [scenario()],
      ramp: { p95LimitMs: 100, stepDurationSec: 20, steps: [{ eventsPerSec: 2_000, p95Ms: 40, failedRequests: 0, droppedIterations: 0, achievedEventsPerSec: 2_000, passed: true }], maxPassingEventsPerSec: 2_000, limitFound: false },
      ratios: { processed: null, committed: null },
    };
    const markdown = benchMarkdown(results);
    expect(markdown).toContain('| processed | processed | 10000 | 9990 | 6000 | 0 | 0 | 18 | 40 | 70 | 120 | pass | 42 | 150 | 5 |');
    expect(markdown).toContain('**2000 events/s** (every step passed: the limit is higher)');
    expect(markdown).toContain('| processed | 2 / 5 | 40 / 60 |');
    expect(markdown).toContain('| processed | 60 | 30 |');
  });
});

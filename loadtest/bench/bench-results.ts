/**
 * What a benchmark run produces: per scenario the load k6 offered and what came back (latency,
 * failures, achieved throughput), the CPU and memory of every process involved, the ramp's
 * steps, and Eddy's figures relative to the baseline's. Written as JSON and as markdown.
 */
import type { K6Figures, Wait } from './k6-run.ts';
import type { MachineUsage, ProcessUsage } from './process-sampler.ts';

/** Scenarios in the order they run. `ramp` is a series of `processed` runs at rising rates. */
export const scenarioNames = ['baseline', 'processed', 'committed', 'ramp'] as const;
export type ScenarioName = (typeof scenarioNames)[number];

export interface ScenarioResult extends Omit<K6Figures, 'summaryFile' | 'logFile'> {
  /** `baseline`, `processed`, `committed`, or `ramp-<rate>`. */
  name: string;
  target: 'baseline' | 'eddy';
  wait: Wait;
  targetEventsPerSec: number;
  batch: number;
  durationSec: number;
  /** 1-minute load average just before the run: the machine may be shared. */
  loadAvg1mBefore: number;
  /** Per process (coordinator, worker-N, kafka, nats, k6, baseline, bench): CPU % of one core and RSS. */
  processes: Record<string, ProcessUsage>;
  /** The whole machine's CPU during the run, and the part used by processes outside the benchmark (a shared machine). */
  machineCpu: MachineUsage | null;
  k6Summary: string;
  k6Log: string;
}

/** Why a ramp step did not pass. */
export type RampFailure = 'failed-requests' | 'p95-over-limit' | 'dropped-iterations' | 'throughput-short';

export interface RampStep {
  eventsPerSec: number;
  p95Ms: number;
  failedRequests: number;
  droppedIterations: number;
  achievedEventsPerSec: number;
  passed: boolean;
  failure?: RampFailure;
}

export interface RampResult {
  p95LimitMs: number;
  stepDurationSec: number;
  steps: RampStep[];
  /** Highest rate whose run passed; null if the first step failed already. */
  maxPassingEventsPerSec: number | null;
  /** False if every step up to the ramp's maximum passed (the limit lies higher). */
  limitFound: boolean;
}

/** Eddy divided by the baseline: p95 latency (above 1 = Eddy slower) and achieved throughput (below 1 = Eddy confirmed fewer events/s). */
export interface Ratio {
  p95Latency: number;
  achievedThroughput: number;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  machine: { cpus: number; memoryGb: number; loadAvg1mAtStart: number; node: string; k6: string };
  settings: {
    rate: number;
    durationSec: number;
    batch: number;
    keys: number;
    workers: number;
    threadsPerWorker: number | null;
    scenarios: ScenarioName[];
    timeoutMs: number;
    p95LimitMs: number;
    warmupSec: number;
  };
  cluster: { topicPrefix: string; dir: string } | null;
  /** With `--profile`: where the CPU profiles are, and which process each pid was. */
  profile?: { dir: string; processes: Record<string, string> };
  scenarios: ScenarioResult[];
  ramp: RampResult | null;
  ratios: { processed: Ratio | null; committed: Ratio | null };
}

/** Eddy's scenario against the baseline, if both ran. */
export function ratio(eddy: ScenarioResult | undefined, baseline: ScenarioResult | undefined): Ratio | null {
  if (eddy === undefined || baseline === undefined) return null;
  const divide = (a: number, b: number): number => (b > 0 ? Math.round((a / b) * 100) / 100 : Number.NaN);
  return {
    p95Latency: divide(eddy.latencyMs.p95, baseline.latencyMs.p95),
    achievedThroughput: divide(eddy.achievedEventsPerSec, baseline.achievedEventsPerSec),
  };
}

/**
 * Why a ramp step failed, or undefined if it passed: any failed request, p95 at or over the
 * limit, more than 1% of iterations dropped (k6 could not offer the rate), or fewer than 95% of
 * the target events/s confirmed.
 */
export function rampFailure(step: ScenarioResult, p95LimitMs: number): RampFailure | undefined {
  if (step.failedRequests > 0) return 'failed-requests';
  if (step.latencyMs.p95 >= p95LimitMs) return 'p95-over-limit';
  if (step.droppedIterations > step.requests * 0.01) return 'dropped-iterations';
  if (step.achievedEventsPerSec < step.targetEventsPerSec * 0.95) return 'throughput-short';
  return undefined;
}

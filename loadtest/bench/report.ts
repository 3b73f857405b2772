/**
 * The benchmark's results as files: `bench-<timestamp>.json` (everything) and
 * `bench-<timestamp>.md` (the tables a person reads), in loadtest/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults, Ratio, ScenarioResult } from './bench-results.ts';

export function writeBenchResults(results: BenchResults, dir: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = join(dir, `bench-${stamp}.json`);
  const markdown = join(dir, `bench-${stamp}.md`);
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(markdown, benchMarkdown(results));
  return { json, markdown };
}

/** Average CPU of processes outside the benchmark above which the report calls a run skewed. */
const sharedCpuWarnPct = 10;

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function processNames(scenarios: ScenarioResult[]): string[] {
  const order = ['coordinator', 'worker', 'kafka', 'nats', 'k6', 'baseline', 'bench'];
  const names = new Set(scenarios.flatMap((s) => Object.keys(s.processes)));
  const rank = (n: string): number => order.findIndex((o) => n.startsWith(o));
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
}

/** Sum of the average CPU of the coordinator and the workers. */
function eddyCpu(s: ScenarioResult): string {
  const parts = Object.entries(s.processes).filter(([n]) => n === 'coordinator' || n.startsWith('worker-'));
  return parts.length === 0 ? '-' : String(Math.round(parts.reduce((sum, [, u]) => sum + u.cpuPctAvg, 0)));
}

function ratioRows(name: string, r: Ratio | null): (string | number)[][] {
  return r === null ? [] : [[name, r.p95Latency, r.achievedThroughput]];
}

export function benchMarkdown(results: BenchResults): string {
  const { machine, settings, scenarios } = results;
  const out: string[] = [
    `# Eddy ingest benchmark, ${results.startedAt}`,
    '',
    `${machine.cpus} CPUs, ${machine.memoryGb} GB, Node ${machine.node}, k6 ${machine.k6}; load average ${machine.loadAvg1mAtStart} at start. ` +
      `${settings.workers} workers${settings.threadsPerWorker === null ? '' : ` x ${settings.threadsPerWorker} threads`}, job eos-check, ` +
      `${settings.batch} events per request, ${settings.keys} keys. Latency is k6's http_req_duration (request sent to answer received). ` +
      `CPU is % of one core (${machine.cpus * 100} = every core busy); "Eddy" = coordinator + workers, "others" = processes outside the benchmark (the machine may be shared).`,
    '',
    table(
      ['scenario', 'wait', 'target ev/s', 'achieved ev/s', 'requests', 'failed', 'dropped', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'thresholds', 'Eddy CPU %', 'machine CPU %', 'others CPU %'],
      scenarios.map((s) => [
        s.name, s.wait, s.targetEventsPerSec, s.achievedEventsPerSec, s.requests, s.failedRequests, s.droppedIterations,
        s.latencyMs.p50, s.latencyMs.p95, s.latencyMs.p99, s.latencyMs.max, s.thresholdsPassed ? 'pass' : 'FAIL', eddyCpu(s),
        s.machineCpu?.cpuPctAvg ?? '-', s.machineCpu?.othersCpuPctAvg ?? '-',
      ]),
    ),
  ];
  const busy = scenarios.filter((s) => (s.machineCpu?.othersCpuPctAvg ?? 0) > sharedCpuWarnPct);
  if (busy.length > 0) {
    out.push('', `**Shared machine:** processes outside the benchmark used more than ${sharedCpuWarnPct}% of a core on average during ` +
      `${busy.map((s) => `${s.name} (${s.machineCpu?.othersCpuPctAvg}%)`).join(', ')}; those figures (and ratios built on them) are skewed.`);
  }
  const ratios = [...ratioRows('processed / baseline', results.ratios.processed), ...ratioRows('committed / baseline', results.ratios.committed)];
  if (ratios.length > 0) {
    out.push('', 'Eddy relative to the baseline (p95: above 1 = Eddy slower; throughput: below 1 = Eddy confirmed fewer events/s):', '');
    out.push(table(['ratio', 'p95 latency', 'achieved throughput'], ratios));
  }
  if (results.ramp !== null) {
    const r = results.ramp;
    const verdict = r.maxPassingEventsPerSec === null
      ? 'no step passed'
      : `highest rate with p95 < ${r.p95LimitMs} ms on processed: **${r.maxPassingEventsPerSec} events/s**${r.limitFound ? '' : ' (every step passed: the limit is higher)'}`;
    out.push('', `Ramp (${r.stepDurationSec} s per step): ${verdict}.`, '');
    out.push(table(
      ['events/s', 'p95 ms', 'failed', 'dropped', 'achieved ev/s', 'result'],
      r.steps.map((s) => [s.eventsPerSec, s.p95Ms, s.failedRequests, s.droppedIterations, s.achievedEventsPerSec, s.passed ? 'pass' : `FAIL (${s.failure})`]),
    ));
  }
  const windowCount = Math.max(0, ...scenarios.map((s) => s.windows.length));
  if (windowCount > 1) {
    const width = scenarios.find((s) => s.windows.length > 1)?.windows[1]?.fromSec ?? 0;
    out.push('', `p95 latency, ms, of the requests started in each ${width} s window (start-up transients and steady state apart):`, '');
    out.push(table(
      ['scenario', ...Array.from({ length: windowCount }, (_, i) => `${i * width}-${(i + 1) * width} s`)],
      scenarios.map((s) => [s.name, ...Array.from({ length: windowCount }, (_, i) => s.windows[i]?.p95 ?? '-')]),
    ));
  }
  const names = processNames(scenarios);
  if (names.length > 0) {
    const cell = (s: ScenarioResult, n: string, pick: 'cpu' | 'rss'): string => {
      const u = s.processes[n];
      if (u === undefined) return '-';
      return pick === 'cpu' ? `${Math.round(u.cpuPctAvg)} / ${Math.round(u.cpuPctMax)}` : `${Math.round(u.rssMbAvg)} / ${Math.round(u.rssMbMax)}`;
    };
    out.push('', 'CPU, % of one core, avg / max (sampled each second):', '');
    out.push(table(['scenario', ...names], scenarios.map((s) => [s.name, ...names.map((n) => cell(s, n, 'cpu'))])));
    out.push('', 'Resident memory, MB, avg / max:', '');
    out.push(table(['scenario', ...names], scenarios.map((s) => [s.name, ...names.map((n) => cell(s, n, 'rss'))])));
  }
  return `${out.join('\n')}\n`;
}

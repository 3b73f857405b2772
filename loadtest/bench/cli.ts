/**
 * `npm run bench`: the ingest benchmark against a fresh local cluster (Kafka and NATS started if
 * missing, stopped after if started here). Prints progress, then the results table; writes
 * loadtest/results/bench-<timestamp>.json and .md. `--smoke` is the 10-second check CI runs.
 * Exits 1 if a request of the baseline, processed or committed scenario failed or no event was
 * confirmed (a p95 over the limit is reported in the table, not an exit code; the ramp's last
 * step fails by design).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { integerOption } from '../../bin/options.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import { scenarioNames, type BenchResults, type ScenarioName } from './bench-results.ts';
import { profileMarkdown, readProfiles } from './profile-summary.ts';
import { writeBenchResults, benchMarkdown } from './report.ts';
import { defaultBenchOptions, runBench, smokeDefaults, type BenchOptions } from './run-bench.ts';
import { ecommerceMarkdown, runEcommerceBench } from './ecommerce-bench.ts';
import { runStartupBench, startupMarkdown } from './startup-bench.ts';
import { runStateBench, stateMarkdown } from './state-bench.ts';
import { runThroughputBench, throughputMarkdown } from './throughput-bench.ts';
import { loadConfig, type EddyConfig } from '../../common/config.ts';
import { createKafka } from '../../common/kafka.ts';
import { ensureLocalStack, type LocalStack } from '../../deploy/local/stack.ts';

const resultsDir = fileURLToPath(new URL('../results', import.meta.url));

interface BenchFlags {
  rate: number;
  duration: number;
  batch: number;
  keys: number;
  workers: number;
  threads?: number;
  scenarios: (ScenarioName | 'ecommerce' | 'state' | 'startup' | 'throughput')[];
  smoke?: boolean;
  rampStart: number;
  rampStep: number;
  rampMax: number;
  rampDuration: number;
  p95Limit: number;
  timeoutMs: number;
  warmup: number;
  profile?: string;
  ecommerce: boolean;
  ecommerceRate: number;
  ecommerceDuration: number;
  stateKeys: number;
  stateChurn: number;
  stateIdle: number;
  stateDuration: number;
  stateLoadRate: number;
  throughputRecords: number;
}

function scenariosOption(value: string): (ScenarioName | 'ecommerce' | 'state' | 'startup' | 'throughput')[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const known = [...scenarioNames, 'ecommerce', 'state', 'startup', 'throughput'];
  for (const name of names) {
    if (!known.includes(name)) throw new InvalidArgumentError(`--scenarios: unknown scenario '${name}' (known: ${known.join(', ')})`);
  }
  if (names.length === 0) throw new InvalidArgumentError('--scenarios: name at least one scenario');
  return names as (ScenarioName | 'ecommerce' | 'state' | 'startup' | 'throughput')[];
}

function failedScenarios(results: BenchResults): string[] {
  return results.scenarios
    .filter((s) => !s.name.startsWith('ramp-') && (s.failedRequests > 0 || s.eventsAccepted === 0))
    .map((s) => s.name);
}

const d = defaultBenchOptions;
const command = new Command('bench')
  .description('k6 against Eddy\'s ingest endpoint (wait=processed, wait=committed, a ramp) and a bare Kafka passthrough baseline')
  .option('--rate <n>', 'events per second (baseline, processed, committed)', integerOption('--rate', 1), d.rate)
  .option('--duration <s>', 'seconds per scenario', integerOption('--duration', 1), d.durationSec)
  .option('--batch <n>', 'events per request', integerOption('--batch', 1, 10_000), d.batch)
  .option('--keys <n>', 'distinct keys', integerOption('--keys', 1), d.keys)
  .option('--workers <n>', 'worker processes', integerOption('--workers', 1, 32), d.workers)
  .option('--threads <n>', 'actor threads per worker (default: the config\'s)', integerOption('--threads', 1, 64))
  .option('--scenarios <list>', `comma list of ${scenarioNames.join(', ')}, ecommerce, state, startup, throughput (default: all but state, startup and throughput)`, scenariosOption, d.scenarios)
  .option('--smoke', `the CI check: ${smokeDefaults.durationSec} s of processed at ${smokeDefaults.rate} events/s after a ${smokeDefaults.warmupSec} s warm-up (explicit flags still win)`)
  .option('--ramp-start <n>', 'first ramp rate, events/s', integerOption('--ramp-start', 1), d.ramp.startEventsPerSec)
  .option('--ramp-step <n>', 'ramp increment, events/s', integerOption('--ramp-step', 1), d.ramp.stepEventsPerSec)
  .option('--ramp-max <n>', 'last ramp rate, events/s', integerOption('--ramp-max', 1), d.ramp.maxEventsPerSec)
  .option('--ramp-duration <s>', 'seconds per ramp step', integerOption('--ramp-duration', 1), d.ramp.stepDurationSec)
  .option('--p95-limit <ms>', 'p95 limit of processed runs (threshold and ramp pass mark)', integerOption('--p95-limit', 1), d.p95LimitMs)
  .option('--timeout-ms <ms>', 'the endpoint\'s timeoutMs', integerOption('--timeout-ms', 1), d.timeoutMs)
  .option('--warmup <s>', 'unrecorded warm-up seconds before the first run against each target', integerOption('--warmup', 0), d.warmupSec)
  .option('--profile <dir>', 'write a CPU profile of every cluster thread to <dir> and print where the time went')
  .option('--no-ecommerce', 'skip the ecommerce job scenario (skipped by --smoke too)')
  .option('--ecommerce-rate <n>', 'change events per second fed to the ecommerce job', integerOption('--ecommerce-rate', 1), 10_000)
  .option('--ecommerce-duration <s>', 'measured seconds of the ecommerce scenario (after a 20 s warm-up)', integerOption('--ecommerce-duration', 1), 60)
  .option('--state-keys <n>', 'keys the state scenario loads', integerOption('--state-keys', 1), 10_000_000)
  .option('--state-churn <pct>', 'percent of the keys the state scenario updates per second', Number, 1)
  .option('--state-idle <s>', 'seconds of the state scenario\'s idle phase', integerOption('--state-idle', 1), 30)
  .option('--state-duration <s>', 'seconds of the state scenario\'s churn phase', integerOption('--state-duration', 1), 60)
  .option('--state-load-rate <n>', 'records per second while the state scenario loads its keys', integerOption('--state-load-rate', 1), 25_000)
  .option('--throughput-records <n>', 'records the throughput scenario preloads for Eddy and Kafka Streams', integerOption('--throughput-records', 1), 1_000_000)
  .action(async (flags: BenchFlags, cmd: Command) => {
    const logger = createLogger('bench');
    const fromCli = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
    const smoke = flags.smoke === true;
    const pick = <T>(name: string, flag: T, smokeValue: T | undefined): T => (smoke && !fromCli(name) && smokeValue !== undefined ? smokeValue : flag);
    const controller = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        process.stderr.write(`bench: ${signal}; stopping everything it started (Ctrl-C again to force)\n`);
        controller.abort();
        process.once(signal, () => process.exit(130));
      });
    }
    const options: BenchOptions = {
      ...d,
      rate: pick('rate', flags.rate, smokeDefaults.rate),
      durationSec: pick('duration', flags.duration, smokeDefaults.durationSec),
      batch: flags.batch,
      keys: flags.keys,
      workers: flags.workers,
      threadsPerWorker: flags.threads,
      scenarios: pick('scenarios', flags.scenarios.filter((s): s is ScenarioName => (scenarioNames as readonly string[]).includes(s)), smokeDefaults.scenarios),
      ramp: { startEventsPerSec: flags.rampStart, stepEventsPerSec: flags.rampStep, maxEventsPerSec: flags.rampMax, stepDurationSec: flags.rampDuration },
      p95LimitMs: flags.p95Limit,
      timeoutMs: flags.timeoutMs,
      warmupSec: pick('warmup', flags.warmup, smokeDefaults.warmupSec),
      profileDir: flags.profile === undefined ? undefined : resolve(flags.profile),
      logger,
      progress: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
      signal: controller.signal,
    };
    const ecommerceWanted = flags.ecommerce && !smoke && (!fromCli('scenarios') || flags.scenarios.includes('ecommerce'));
    let results: BenchResults | undefined;
    if (options.scenarios.length > 0) {
      try {
        results = await runBench(options);
      } catch (err) {
        if (!controller.signal.aborted) throw err;
        console.log('bench: interrupted; no results written');
        process.exitCode = 130;
        return;
      }
      const files = writeBenchResults(results, resultsDir);
      console.log(benchMarkdown(results));
      console.log(`written to ${files.json} and ${files.markdown}`);
    }
    if (results?.profile !== undefined) {
      const names = new Map(Object.entries(results.profile.processes).map(([pid, name]) => [Number(pid), name]));
      const summary = profileMarkdown(readProfiles(results.profile.dir), names);
      writeFileSync(join(results.profile.dir, 'summary.md'), `${summary}\n`);
      console.log(`\nCPU profiles (whole cluster lifetime, warm-up included) in ${results.profile.dir}:\n\n${summary}`);
    }
    const wanted = (name: 'startup' | 'state' | 'throughput'): boolean => fromCli('scenarios') && flags.scenarios.includes(name) && !smoke;
    const scenarios: StackScenario[] = [
      {
        name: 'ecommerce', wanted: ecommerceWanted,
        run: async ({ stack }) => reported(ecommerceMarkdown, await runEcommerceBench({
          kafka: createKafka(stack.brokers, 'eddy-bench-ecommerce', logger), brokers: stack.brokers, rate: flags.ecommerceRate, durationSec: flags.ecommerceDuration,
          warmupSec: 20, workers: flags.workers, threadsPerWorker: flags.threads, partitions: 12, logger,
        })),
      },
      {
        name: 'startup', wanted: wanted('startup'),
        run: async ({ stack }) => reported(startupMarkdown, await runStartupBench({
          kafka: createKafka(stack.brokers, 'eddy-bench-startup', logger), brokers: stack.brokers, workers: flags.workers, threadsPerWorker: flags.threads, runs: 3,
        })),
      },
      {
        name: 'state', wanted: wanted('state'),
        run: async ({ stack }) => reported(stateMarkdown, await runStateBench({
          kafka: createKafka(stack.brokers, 'eddy-bench-state', logger), brokers: stack.brokers, keys: flags.stateKeys, churnPct: flags.stateChurn,
          idleSec: flags.stateIdle, churnSec: flags.stateDuration, loadRate: flags.stateLoadRate, workers: flags.workers, threadsPerWorker: flags.threads, logger,
          progress: options.progress, signal: controller.signal,
        })),
      },
      {
        name: 'throughput', wanted: wanted('throughput'),
        run: async ({ stack, config }) => reported(throughputMarkdown, await runThroughputBench({
          kafka: createKafka(stack.brokers, 'eddy-bench-throughput', logger), brokers: stack.brokers, records: flags.throughputRecords,
          workers: flags.workers, threadsPerWorker: flags.threads, config, logger, progress: options.progress, signal: controller.signal,
        })),
      },
    ];
    for (const scenario of scenarios) {
      if (!scenario.wanted || controller.signal.aborted) continue;
      if (!(await runStackScenario(scenario, logger, controller.signal))) return;
    }
    const failed = results === undefined ? [] : failedScenarios(results);
    if (failed.length > 0) console.log(`FAIL: failed requests or nothing confirmed in ${failed.join(', ')}`);
    process.exitCode = failed.length > 0 ? 1 : 0;
  });

function reported<R>(markdown: (result: R) => string, result: R): { result: R; markdown: string } {
  return { result, markdown: markdown(result) };
}

/** A scenario that runs on its own cluster against the local stack and reports one Markdown table. */
interface StackScenario {
  name: string;
  wanted: boolean;
  /** Runs it; returns its Markdown (its JSON is written by `run` through `report`). */
  run: (context: { stack: LocalStack; config: EddyConfig }) => Promise<{ result: unknown; markdown: string }>;
}

/**
 * Starts the local stack if needed, runs the scenario, writes bench-<name>-<stamp>.json and .md to
 * loadtest/results and prints the table; stops what it started. False when Ctrl-C interrupted it.
 */
async function runStackScenario(scenario: StackScenario, logger: Logger, signal: AbortSignal): Promise<boolean> {
  const config = loadConfig();
  const stack = await ensureLocalStack(config, logger);
  try {
    const { result, markdown } = await scenario.run({ stack, config });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(resultsDir, `bench-${scenario.name}-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(resultsDir, `bench-${scenario.name}-${stamp}.md`), `${markdown}\n`);
    console.log(`\n${markdown}`);
    return true;
  } catch (err) {
    if (!signal.aborted) throw err;
    console.log(`bench: ${scenario.name} interrupted; no results written`);
    process.exitCode = 130;
    return false;
  } finally {
    await stack.stopStarted();
  }
}

await command.parseAsync(process.argv);

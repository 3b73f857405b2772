/**
 * `eddy up`: a whole local cluster in one command: Kafka and NATS (started if missing), a
 * coordinator and N workers, each its own OS process. Ctrl-C or SIGTERM stops everything it
 * started. With `--generate` it also runs the demo CDC generator (what `npm start` does).
 */
import { Command } from 'commander';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { LocalCluster } from '../deploy/local/local-cluster.ts';
import { ensureLocalStack } from '../deploy/local/stack.ts';
import { runCdcGenerator } from '../loadtest/cdc/producer.ts';
import { onExit } from './cleanup.ts';
import { integerOption, portOption } from './options.ts';
import { untilSignal } from './process-signals.ts';
import { printCluster } from './status-command.ts';

interface UpFlags {
  workers: number;
  job: string;
  adminPort?: number;
  controlPort?: number;
  generate?: number;
}

export function upCommand(): Command {
  return new Command('up')
    .description('run Kafka, NATS, a coordinator and N workers on this machine until Ctrl-C')
    .option('--workers <n>', 'number of worker processes', integerOption('--workers', 1, 64), 3)
    .requiredOption('--job <name|path>', 'built-in job name (eos-check, ecommerce) or path of a job module')
    .option('--admin-port <port>', 'coordinator admin HTTP port (default: config, 8080)', portOption('--admin-port'))
    .option('--control-port <port>', 'coordinator gRPC port (default: config, 7700)', portOption('--control-port'))
    .option('--generate <events/s>', 'also run the demo CDC generator at this rate', integerOption('--generate', 1))
    .action(async (flags: UpFlags) => {
      const config = loadConfig();
      const logger = createLogger('up');
      const stack = await ensureLocalStack(config, logger);
      onExit(() => stack.stopStarted());
      const cluster = new LocalCluster({
        job: flags.job,
        workers: flags.workers,
        brokers: stack.brokers,
        natsUrl: stack.natsUrl,
        dir: config.local.stateDir,
        controlPort: flags.controlPort ?? config.cluster.controlPort,
        adminPort: flags.adminPort ?? config.cluster.adminPort,
        echo: true,
      });
      onExit(() => cluster.stop());
      await cluster.start();
      printCluster(await cluster.waitUntilRunning(120_000));
      console.log(`cluster running: admin ${cluster.adminUrl}/api/v1/cluster, metrics ${cluster.adminUrl}/metrics; Ctrl-C stops`);
      const generator = new AbortController();
      const generating = flags.generate === undefined ? undefined : runGenerator(stack.brokers, flags.generate, generator.signal);
      const reporter = reportThroughput(cluster);
      await untilSignal(async () => {
        clearInterval(reporter);
        generator.abort();
        await generating;
      });
    });
}

/** Every 5 s: records the live workers handled and emitted (from their heartbeats). */
function reportThroughput(cluster: LocalCluster): NodeJS.Timeout {
  let previous: { in: number; out: number; at: number } | undefined;
  return setInterval(() => {
    void cluster.view().then((view) => {
      if (view === undefined) return;
      const live = view.workers.filter((w) => w.alive);
      const now = { in: live.reduce((s, w) => s + w.recordsIn, 0), out: live.reduce((s, w) => s + w.recordsOut, 0), at: Date.now() };
      if (previous !== undefined && now.in >= previous.in) {
        const seconds = (now.at - previous.at) / 1000;
        console.log(`cluster: ${Math.round((now.in - previous.in) / seconds)} records/s in, ${Math.round((now.out - previous.out) / seconds)} outputs/s; ${live.length} workers, generation ${view.generation}`);
      }
      previous = now;
    });
  }, 5_000);
}

async function runGenerator(brokers: string[], rate: number, signal: AbortSignal): Promise<void> {
  const stats = await runCdcGenerator({
    brokers, rate, seed: 1, schemas: true, signal, logger: createLogger('cdc-generator'),
    onProgress: (s) => console.log(`generator: ${s.events} events, ${Math.round(s.eventsPerSec)} events/s`),
  });
  console.log(`generator: ${stats.events} events in ${(stats.elapsedMs / 1000).toFixed(1)} s`);
}

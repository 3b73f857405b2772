/**
 * `eddy up`: a whole local cluster in one command: Kafka and NATS (started if missing), a
 * coordinator and N workers, each its own OS process. Ctrl-C or SIGTERM stops everything it
 * started. With `--generate` it also runs the demo CDC generator (what `npm start` does) into
 * the `demo.public.*` topics, the job `ecommerce` reading them under the name `demo`. With
 * `--cdc postgres` it runs the real chain instead: PostgreSQL, Kafka Connect with Debezium
 * (topics `ecommerce.public.*`), the `ecommerce` job writing seed 004's analytics tables in
 * the same database, and a workload of transactions on it; `--cdc mysql` the same from MariaDB
 * (topics `ecommerce_mysql.ecommerce.*`, job `ecommerce_mysql`), the analytics in PostgreSQL.
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ensureError } from '../common/errors.ts';
import { ecommerceConnector, ecommerceMysqlConnector, startMysqlSource, startPostgresSource, type CdcSource } from '../deploy/local/cdc-source.ts';
import { runDbWorkload } from '../loadtest/cdc/db-workload.ts';
import { clientToken, loadConfig } from '../common/config.ts';
import { bearer } from '../common/http-auth.ts';
import type { DashboardSnapshot } from '../coordinator/dashboard/dashboard-feed.ts';
import { createLogger } from '../common/logger.ts';
import { LocalCluster } from '../deploy/local/local-cluster.ts';
import { ensureLocalStack } from '../deploy/local/stack.ts';
import { runCdcGenerator } from '../loadtest/cdc/producer.ts';
import { onExit, stopOnSignalWhileStarting } from './cleanup.ts';
import { integerOption, portOption } from './options.ts';
import { untilSignal } from './process-signals.ts';
import { printCluster } from './status-command.ts';
import { StatusLine, summarize } from './status-line.ts';

interface UpFlags {
  workers: number;
  job?: string;
  cdc?: 'postgres' | 'mysql';
  workloadRate: number;
  seed: number;
  adminPort?: number;
  controlPort?: number;
  generate?: number;
  verbose?: boolean;
}

export function upCommand(): Command {
  return new Command('up')
    .description('run Kafka, NATS, a coordinator and N workers on this machine until Ctrl-C')
    .option('--workers <n>', 'number of worker processes', integerOption('--workers', 1, 64), 3)
    .option('--job <name|path>', 'built-in job name (eos-check, ecommerce) or path of a job module (with --cdc: ecommerce)')
    .option('--cdc <database>', 'the real CDC chain from postgres or mysql (MariaDB): the database, Debezium, the ecommerce job writing analytics.* in PostgreSQL, a workload', cdcOption)
    .option('--workload-rate <tx/s>', 'with --cdc: transactions per second of the workload on the database (0: none)', integerOption('--workload-rate', 0), 20)
    .option('--seed <n>', 'with --cdc: seed of the workload', integerOption('--seed', 0), 1)
    .option('--admin-port <port>', 'coordinator admin HTTP port (default: config, 8080)', portOption('--admin-port'))
    .option('--control-port <port>', 'coordinator gRPC port (default: config, 7700)', portOption('--control-port'))
    .option('--generate <events/s>', 'also run the demo CDC generator at this rate', integerOption('--generate', 1))
    .option('--verbose', 'show every log line of every process (default: a live summary, with warnings and errors above it; every line is in the log files)')
    .action(async (flags: UpFlags) => {
      if (flags.job === undefined && flags.cdc === undefined) throw new Error('eddy up needs --job <name|path> (or --cdc postgres)');
      if (flags.cdc !== undefined && flags.generate !== undefined) throw new Error('--generate feeds the demo topics; --cdc runs the real chain instead: pick one');
      const config = loadConfig();
      const logger = createLogger('up');
      const starting = stopOnSignalWhileStarting();
      const stack = await ensureLocalStack(config, logger, (stop) => onExit(stop));
      const env: Record<string, string> = {};
      let source: CdcSource | undefined;
      if (flags.cdc !== undefined) {
        const mysqlSide = flags.cdc === 'mysql';
        const registerStop = (stop: () => Promise<void>) => onExit(stop);
        source = mysqlSide ? await startMysqlSource(config, stack.brokers, logger, registerStop) : await startPostgresSource(config, stack.brokers, logger, registerStop);
        env.EDDY_POSTGRES_URL = source.postgresUrl;
        const topics = mysqlSide ? { topicPrefix: ecommerceMysqlConnector.topicPrefix, sourceSchema: ecommerceMysqlConnector.database } : { topicPrefix: ecommerceConnector.topicPrefix };
        env.EDDY_ECOMMERCE = JSON.stringify({ ...parseJsonEnv('EDDY_ECOMMERCE'), output: 'postgres', ...topics });
      } else if (flags.generate !== undefined && flags.job === 'ecommerce') {
        env.EDDY_ECOMMERCE = JSON.stringify({ ...parseJsonEnv('EDDY_ECOMMERCE'), topicPrefix: demoTopicPrefix });
      }
      let stoppingCluster = false;
      const cluster = new LocalCluster({
        job: flags.job ?? 'ecommerce',
        env,
        workers: flags.workers,
        brokers: stack.brokers,
        natsUrl: stack.natsUrl,
        dir: config.local.stateDir,
        controlPort: flags.controlPort ?? config.cluster.controlPort,
        adminPort: flags.adminPort ?? config.cluster.adminPort,
        echo: flags.verbose === true ? true : 'warnings',
        // Once stopping, the processes' warnings about each other leaving are expected: not shown.
        onEcho: (line) => {
          if (!stoppingCluster) status.print(line);
        },
      });
      onExit(async () => {
        stoppingCluster = true;
        status.end();
        const names = ['the coordinator', ...cluster.workerNames()].join(', ');
        process.stderr.write(`stopping ${names}\n`);
        await cluster.stop();
        process.stderr.write(`stopped ${names}\n`);
      });
      await cluster.start();
      printCluster(await cluster.waitUntilRunning(120_000));
      console.log(`cluster running: dashboard ${cluster.adminUrl}/ (admin API ${cluster.adminUrl}/api/v1/cluster, metrics ${cluster.adminUrl}/metrics); logs in ${join(config.local.stateDir, 'logs')}; Ctrl-C stops`);
      const generator = new AbortController();
      let generated = '';
      const generating = flags.generate === undefined ? undefined : runGenerator(stack.brokers, flags.generate, generator.signal, (events, perSec) => {
        generated = `generator ${events.toLocaleString('en-US')} events (${Math.round(perSec)}/s)`;
      });
      let stopWorkload = false;
      const workload = source === undefined || flags.workloadRate === 0 ? undefined : runWorkload(source, flags, () => stopWorkload);
      const reporter = reportStatus(cluster, clientToken(config), () => generated);
      const stopped = untilSignal(async () => {
        clearInterval(reporter);
        status.end();
        generator.abort();
        stopWorkload = true;
        await generating;
        await workload;
      });
      // Only now, with the next handler in place: while a signal has no listener Node stops
      // watching it, and a Ctrl-C that arrived just before would be lost.
      starting();
      await stopped;
    });
}

/** `eddy up`'s status line (bin/status-line.ts); warnings of the processes are printed above it. */
const status = new StatusLine();

/** Every 2 s (a line every 10 s when not on a terminal): the cluster's summary from the coordinator's dashboard. */
function reportStatus(cluster: LocalCluster, token: string | undefined, extra: () => string): NodeJS.Timeout {
  let ticks = 0;
  return setInterval(() => {
    ticks += 1;
    if (!process.stdout.isTTY && ticks % 5 !== 0) return;
    void fetch(`${cluster.adminUrl}/api/v1/dashboard`, { headers: bearer(token), signal: AbortSignal.timeout(1_500) })
      .then(async (response) => (response.ok ? ((await response.json()) as DashboardSnapshot) : undefined))
      .then((snapshot) => {
        if (snapshot !== undefined) status.update(summarize(snapshot, extra()));
      })
      .catch(() => status.update('cluster: the coordinator does not answer'));
  }, 2_000);
}

/** Transactions on the source database until stopped, with a line every 30 s; what a user watches arrive in analytics.*. */
async function runWorkload(source: CdcSource, flags: UpFlags, stop: () => boolean): Promise<void> {
  const shown = `psql ${source.postgresUrl} -c 'SELECT * FROM analytics.revenue_analytics ORDER BY window_start DESC LIMIT 5'`;
  console.log(`workload: ${flags.workloadRate} transactions/s on ${source.sourceUrl} (seed ${flags.seed}); watch the results with\n  ${shown}\n  npx eddy status`);
  let last = Date.now();
  try {
    const report = await runDbWorkload({
      url: source.sourceUrl, seed: flags.seed, transactions: Number.POSITIVE_INFINITY, rate: flags.workloadRate,
      stop: () => {
        if (Date.now() - last >= 30_000) {
          last = Date.now();
          console.log('workload: running; analytics.revenue_analytics, analytics.inventory_alerts and analytics.user_activity fill as it goes');
        }
        return stop();
      },
    });
    console.log(`workload: ${report.transactions} transactions (${report.orders} orders, ${report.statuses} status changes, ${report.deletes} item deletes)`);
  } catch (err) {
    console.error(`workload stopped: ${ensureError(err).message}`);
  }
}

function cdcOption(value: string): 'postgres' | 'mysql' {
  if (value === 'postgres' || value === 'mysql') return value;
  throw new InvalidArgumentError("expected 'postgres' or 'mysql'");
}

/** A JSON object from an environment variable, or {} when unset. */
function parseJsonEnv(name: string): Record<string, unknown> {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
}

/** The demo generator's Debezium topic prefix: apart from the real chain's `ecommerce.public.*`. */
const demoTopicPrefix = 'demo';

async function runGenerator(brokers: string[], rate: number, signal: AbortSignal, progress: (events: number, perSec: number) => void): Promise<void> {
  const stats = await runCdcGenerator({
    brokers, rate, seed: 1, schemas: true, signal, topicPrefix: demoTopicPrefix, logger: createLogger('cdc-generator'),
    onProgress: (s) => progress(s.events, s.eventsPerSec),
  });
  console.log(`generator: ${stats.events} events in ${(stats.elapsedMs / 1000).toFixed(1)} s`);
}

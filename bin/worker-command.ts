/** `eddy worker`: the production entry point of a worker (config file + env + flags). */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Command } from 'commander';
import { checkpointDir, controlTls, httpTokens, kafkaBrokers, loadConfig, natsUrl, workerDataDir } from '../common/config.ts';
import { objectStoreOptions } from '../common/connection-security.ts';
import { createLogger } from '../common/logger.ts';
import { loadJob } from '../job/load.ts';
import { Worker } from '../worker/worker.ts';
import { integerOption, portOption } from './options.ts';
import { untilSignal } from './process-signals.ts';

interface WorkerFlags {
  job: string;
  coordinator?: string;
  id?: string;
  threads?: number;
  httpPort?: number;
  dataDir?: string;
}

export function workerCommand(): Command {
  return new Command('worker')
    .description('run a worker: consumes the partitions of its tasks and runs their actors')
    .requiredOption('--job <name|path>', 'built-in job name or path of a job module (the coordinator\'s job)')
    .option('--coordinator <host:port>', 'control endpoint of the coordinator (default: $EDDY_COORDINATOR or cluster.host:cluster.controlPort)')
    .option('--id <id>', 'worker id (default: <hostname>-<pid>)')
    .option('--threads <n>', 'actor threads (config worker.threads, default 2)', integerOption('--threads', 1, 64))
    .option('--http-port <port>', 'HTTP endpoint port, 0 = any free port (config worker.httpPort)', portOption('--http-port'))
    .option('--data-dir <path>', 'where task state lives (config worker.dataDir)')
    .action(async (flags: WorkerFlags) => {
      const config = loadConfig();
      const id = flags.id ?? `${hostname()}-${process.pid}`;
      const logger = createLogger(`worker ${id}`);
      const job = await loadJob(flags.job);
      const worker = new Worker({
        id,
        instance: randomUUID().slice(0, 8),
        job,
        jobRef: flags.job,
        brokers: kafkaBrokers(config),
        coordinator: flags.coordinator ?? process.env.EDDY_COORDINATOR ?? `${config.cluster.host}:${config.cluster.controlPort}`,
        dataDir: flags.dataDir ?? workerDataDir(config),
        checkpointDir: checkpointDir(config),
        objectStore: objectStoreOptions(config),
        threads: flags.threads ?? config.worker.threads,
        http: { host: config.worker.httpHost, port: flags.httpPort ?? config.worker.httpPort, tokens: httpTokens(config) },
        controlTls: controlTls(config, id),
        natsUrl: natsUrl(config),
        ingest: config.ingest,
        limits: config.worker,
        compaction: config.checkpoint.compaction,
        fetchMaxWaitMs: config.worker.fetchMaxWaitMs,
        fetchMinBytes: config.worker.fetchMinBytes,
        logger,
        onFatal: (reason) => {
          logger.fatal(reason);
          process.exit(1);
        },
      });
      const endpoint = await worker.start();
      logger.info({ endpoint, ingest: `http://${endpoint}/v1/topics/{topic}/events`, metrics: `http://${endpoint}/metrics` }, 'worker started');
      console.log(`worker ${id}: ingest http://${endpoint}/v1/topics/{topic}/events, metrics http://${endpoint}/metrics`);
      await untilSignal(async (signal) => {
        logger.info({ signal }, 'stopping: flushing tasks');
        await worker.stop();
      });
    });
}

/** `eddy coordinator`: the production entry point of a coordinator (config file + env + flags). */
import { Command } from 'commander';
import { coordinatorName } from '../common/cluster-tls.ts';
import { objectStoreOptions } from '../common/connection-security.ts';
import { checkpointDir, controlTls, httpTokens, kafkaBrokers, loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { startCoordinator } from '../coordinator/coordinator.ts';
import { loadJob } from '../job/load.ts';
import { integerOption, portOption } from './options.ts';
import { untilSignal } from './process-signals.ts';

interface CoordinatorFlags {
  job: string;
  controlPort?: number;
  adminPort?: number;
  host?: string;
  expectWorkers?: number;
}

export function coordinatorCommand(): Command {
  return new Command('coordinator')
    .description('run a coordinator: membership, task assignment, admin API')
    .requiredOption('--job <name|path>', 'built-in job name or path of a job module')
    .option('--control-port <port>', 'gRPC control port (config cluster.controlPort, default 7700)', portOption('--control-port'))
    .option('--admin-port <port>', 'admin HTTP port (config cluster.adminPort, default 8080)', portOption('--admin-port'))
    .option('--host <address>', 'address to bind (config cluster.host, default 127.0.0.1)')
    .option('--expect-workers <n>', 'workers the first assignment waits for, up to cluster.expectWorkersWaitMs (config cluster.expectWorkers, default 0)', integerOption('--expect-workers', 0, 10_000))
    .action(async (flags: CoordinatorFlags) => {
      const config = loadConfig();
      const cluster = {
        ...config.cluster,
        ...(flags.host !== undefined && { host: flags.host }),
        ...(flags.controlPort !== undefined && { controlPort: flags.controlPort }),
        ...(flags.adminPort !== undefined && { adminPort: flags.adminPort }),
        ...(flags.expectWorkers !== undefined && { expectWorkers: flags.expectWorkers }),
      };
      const logger = createLogger('coordinator');
      const job = await loadJob(flags.job);
      const checkpoint = { ...config.checkpoint, dir: checkpointDir(config) };
      const tokens = httpTokens(config);
      const tls = controlTls(config, coordinatorName);
      const coordinator = await startCoordinator({ job, brokers: kafkaBrokers(config), cluster, checkpoint, objectStore: objectStoreOptions(config), logger, ...(tokens === undefined ? {} : { tokens }), ...(tls === undefined ? {} : { tls }) });
      await untilSignal(async (signal) => {
        logger.info({ signal }, 'stopping');
        await coordinator.stop();
      });
    });
}

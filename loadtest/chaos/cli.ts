/**
 * `npm run chaos`: the full chaos run against the local stack (started if missing, stopped
 * after if it was started here). Prints the verdict as JSON, writes it to
 * loadtest/results/chaos-<timestamp>.json, and exits 1 unless nothing was lost or doubled.
 * With `--nemesis KINDS|all`, the seeded fault-injection run (nemesis/run-nemesis.ts) instead.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { integerOption } from '../../bin/options.ts';
import { loadConfig } from '../../common/config.ts';
import { createKafka } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import { ensureLocalStack } from '../../deploy/local/stack.ts';
import { runChaos } from './run-chaos.ts';
import { runNemesis } from './nemesis/run-nemesis.ts';
import { faultKinds, parseKinds } from './nemesis/schedule.ts';

interface ChaosFlags {
  records: number;
  keys: number;
  rate: number;
  workers: number;
  killEvery: number;
  workerKills: number;
  coordinatorKills: number;
  seed: number;
  checkpointInterval: number;
  nemesis?: string;
  rounds?: number;
  gap: number;
}

const resultsDir = fileURLToPath(new URL('../results', import.meta.url));

const command = new Command('chaos')
  .description('kill workers and the coordinator while eos-check runs; verify nothing is lost or doubled')
  .option('--records <n>', 'records to produce (at least)', integerOption('--records', 1), 200_000)
  .option('--keys <n>', 'distinct keys', integerOption('--keys', 1), 1_000)
  .option('--rate <n>', 'records per second', integerOption('--rate', 1), 2_000)
  .option('--workers <n>', 'worker processes', integerOption('--workers', 2, 32), 3)
  .option('--kill-every <s>', 'seconds between kills (±20%)', integerOption('--kill-every', 1), 10)
  .option('--worker-kills <n>', 'worker SIGKILLs, at least', integerOption('--worker-kills', 0), 5)
  .option('--coordinator-kills <n>', 'coordinator SIGKILLs', integerOption('--coordinator-kills', 0), 1)
  .option('--seed <n>', 'seed of the victim choice and timing', integerOption('--seed', 0, 0xffff_ffff), 1)
  .option('--checkpoint-interval <ms>', 'checkpoint interval', integerOption('--checkpoint-interval', 100), 1_000)
  .option('--nemesis <kinds>', `seeded fault injection instead of kills: all, or a comma-separated list of ${faultKinds.join(', ')}`)
  .option('--rounds <n>', 'with --nemesis: rounds of faults (each kind alone once, the rest combined; default 2 per kind)', integerOption('--rounds', 1))
  .option('--gap <s>', 'with --nemesis: seconds between rounds (±50%)', integerOption('--gap', 0), 4)
  .action(async (flags: ChaosFlags) => {
    const logger = createLogger('chaos');
    const config = loadConfig();
    const kinds = flags.nemesis === undefined ? undefined : parseKinds(flags.nemesis);
    const stack = await ensureLocalStack(config, logger);
    try {
      const result = kinds !== undefined
        ? await runNemesis({
          config, natsUrl: stack.natsUrl, kinds, rounds: flags.rounds ?? 2 * kinds.length, records: flags.records, keys: flags.keys, rate: flags.rate,
          workers: flags.workers, seed: flags.seed, checkpointIntervalMs: flags.checkpointInterval, gapSec: flags.gap, logger,
        })
        : await runChaos({
          kafka: createKafka(stack.brokers, 'eddy-chaos', logger), brokers: stack.brokers, natsUrl: stack.natsUrl,
          records: flags.records, keys: flags.keys, rate: flags.rate, workers: flags.workers, killEverySec: flags.killEvery,
          workerKills: flags.workerKills, coordinatorKills: flags.coordinatorKills, seed: flags.seed,
          checkpointIntervalMs: flags.checkpointInterval, logger,
        });
      const json = JSON.stringify(result, null, 2);
      console.log(json);
      mkdirSync(resultsDir, { recursive: true });
      const file = join(resultsDir, `${kinds === undefined ? 'chaos' : 'nemesis'}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      writeFileSync(file, `${json}\n`);
      console.log(`written to ${file}`);
      const ok = result.lost === 0 && result.duplicated === 0 && result.wrongCounts === 0 && (!('converged' in result) || result.converged);
      console.log(ok ? 'PASS: nothing lost, nothing doubled' : 'FAIL: outputs lost or doubled, or the cluster did not converge');
      process.exitCode = ok ? 0 : 1;
    } finally {
      await stack.stopStarted();
    }
  });

await command.parseAsync(process.argv);

/** `eddy stack up|down|status`: the local Kafka and NATS by hand, for people and scripts. */
import { Command } from 'commander';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { ensureLocalStack, localStackStatus, stopLocalStack } from '../deploy/local/stack.ts';

export function stackCommand(): Command {
  const stack = new Command('stack').description('start, stop or inspect the local Kafka and NATS servers');
  stack
    .command('up')
    .description('start the local servers (reusing running ones) and wait until they answer')
    .action(async () => {
      const result = await ensureLocalStack(loadConfig(), createLogger('stack'));
      console.log(`kafka ${result.brokers.join(',')} (${result.outcome.kafka})`);
      console.log(`nats  ${result.natsUrl} (${result.outcome.nats})`);
    });
  stack
    .command('down')
    .description('stop the local servers, whoever started them')
    .action(async () => {
      const stopped = await stopLocalStack(loadConfig());
      console.log(stopped.length === 0 ? 'nothing was running' : `stopped ${stopped.join(', ')}`);
    });
  stack
    .command('status')
    .description('show which servers answer')
    .action(async () => {
      for (const s of await localStackStatus(loadConfig())) {
        const owner = s.external ? 'configured' : s.pid === undefined ? 'not running' : `pid ${s.pid}`;
        console.log(`${s.name.padEnd(6)} ${s.address.padEnd(24)} ${s.answers ? 'answers' : 'no answer'}  (${owner})`);
      }
    });
  return stack;
}

/**
 * `eddy start` (what `npm start` runs): the local Kafka and NATS, started when missing, and the
 * demo CDC generator writing into them until Ctrl-C; then it stops the servers it started.
 * Takes the same flags as `eddy generate`.
 */
import type { Command } from 'commander';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { ensureLocalStack, type LocalStack } from '../deploy/local/stack.ts';
import { cdcGeneratorCommand } from '../loadtest/cdc/cli.ts';
import { onExit } from './cleanup.ts';

export function startCommand(): Command {
  return cdcGeneratorCommand(async () => {
    const stack: LocalStack = await ensureLocalStack(loadConfig(), createLogger('stack'));
    onExit(() => stack.stopStarted());
    console.log(`kafka ${stack.brokers.join(',')} (${stack.outcome.kafka}), nats ${stack.natsUrl} (${stack.outcome.nats})`);
    console.log('writing demo CDC events to ecommerce.public.{users,products,orders,order_items}; Ctrl-C stops');
    return stack.brokers;
  })
    .name('start')
    .description('start the local Kafka and NATS if needed and run the demo CDC generator until Ctrl-C');
}

/** `eddy generate`: the demo CDC generator against the configured or already running Kafka. */
import type { Command } from 'commander';
import { kafkaBrokers, loadConfig } from '../common/config.ts';
import { kafkaAnswers } from '../deploy/local/kafka.ts';
import { cdcGeneratorCommand } from '../loadtest/cdc/cli.ts';

export function generateCommand(): Command {
  return cdcGeneratorCommand(async () => {
    const brokers = kafkaBrokers(loadConfig());
    if (!(await kafkaAnswers(brokers))) {
      throw new Error(`Kafka at ${brokers.join(',')} does not answer: run 'npx eddy stack up' first, or set EDDY_KAFKA_BROKERS`);
    }
    return brokers;
  });
}

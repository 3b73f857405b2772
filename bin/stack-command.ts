/** `eddy stack up|down|status`: the local Kafka and NATS (and, on request, PostgreSQL) by hand, for people and scripts. */
import { Command } from 'commander';
import { loadConfig } from '../common/config.ts';
import { createLogger } from '../common/logger.ts';
import { startMysqlSource, startPostgresSource } from '../deploy/local/cdc-source.ts';
import { ensureLocalStack, localStackStatus, stopLocalStack } from '../deploy/local/stack.ts';

export function stackCommand(): Command {
  const stack = new Command('stack').description('start, stop or inspect the local Kafka and NATS servers');
  stack
    .command('up')
    .description('start the local servers (reusing running ones) and wait until they answer')
    .option('--postgres', "also the CDC chain's source: PostgreSQL (wal_level=logical) with seed 004's ecommerce database, and Kafka Connect with Debezium's connector writing ecommerce.public.<table>")
    .option('--mysql', "also the MySQL side: MariaDB (binlog in row format) with seed 004's ecommerce database, PostgreSQL for the analytics, and Kafka Connect with Debezium's MariaDB connector writing ecommerce_mysql.ecommerce.<table>")
    .action(async (options: { postgres?: boolean; mysql?: boolean }) => {
      const config = loadConfig();
      const logger = createLogger('stack');
      const result = await ensureLocalStack(config, logger);
      console.log(`kafka ${result.brokers.join(',')} (${result.outcome.kafka})`);
      console.log(`nats  ${result.natsUrl} (${result.outcome.nats})`);
      if (options.mysql === true) {
        const mysqlSide = await startMysqlSource(config, result.brokers, logger);
        console.log(`mysql    ${mysqlSide.sourceUrl} (${mysqlSide.mysql ?? 'reused'})`);
        console.log(`postgres ${mysqlSide.postgresUrl} (${mysqlSide.postgres})`);
        console.log(`connect  ${mysqlSide.connectUrl} (${mysqlSide.connect})`);
        console.log('debezium connector ecommerce_mysql running: ecommerce_mysql.ecommerce.{users,products,orders,order_items}');
      }
      if (options.postgres !== true) return;
      const source = await startPostgresSource(config, result.brokers, logger);
      console.log(`postgres ${source.postgresUrl} (${source.postgres})`);
      console.log(`connect  ${source.connectUrl} (${source.connect})`);
      console.log('debezium connector ecommerce running: ecommerce.public.{users,products,orders,order_items}');
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
        console.log(`${s.name.padEnd(8)} ${s.address.padEnd(24)} ${s.answers ? 'answers' : 'no answer'}  (${owner})`);
      }
    });
  return stack;
}

/**
 * The source half of the local CDC chain: PostgreSQL with seed 004's `ecommerce` database and
 * Kafka Connect running Debezium's connector `ecommerce` (topic prefix `ecommerce`, slot
 * `eddy_ecommerce`, 12 partitions). Shared by `eddy stack up --postgres` and `eddy up --cdc postgres`.
 */
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { connectUrl, postgresConnectorConfig, registerConnector, startConnect, stopConnect } from './connect.ts';
import type { StartOutcome } from './kafka.ts';
import { postgresUrl, startPostgres, stopPostgres } from './postgres.ts';

export const ecommerceConnector = { name: 'ecommerce', topicPrefix: 'ecommerce', slot: 'eddy_ecommerce', partitions: 12 } as const;

export interface CdcSource {
  postgres: StartOutcome;
  connect: StartOutcome;
  postgresUrl: string;
  connectUrl: string;
  /** Stops what this call started (Connect first: it reads PostgreSQL). Idempotent. */
  stopStarted(): Promise<void>;
}

/** Starts (or reuses) PostgreSQL and Connect and registers the connector, waiting until it runs. */
export async function startPostgresSource(config: EddyConfig, brokers: string[], logger: Logger): Promise<CdcSource> {
  const source: CdcSource = {
    postgres: 'reused',
    connect: 'reused',
    postgresUrl: postgresUrl(config),
    connectUrl: connectUrl(config),
    stopStarted: async () => {
      if (source.connect === 'started') await stopConnect(config);
      if (source.postgres === 'started') await stopPostgres(config);
      source.connect = source.postgres = 'reused';
    },
  };
  try {
    source.postgres = await startPostgres(config, logger);
    source.connect = await startConnect(config, brokers, logger);
    await registerConnector(config, ecommerceConnector.name, postgresConnectorConfig(config, ecommerceConnector), 120_000);
  } catch (err) {
    await source.stopStarted();
    throw err;
  }
  return source;
}

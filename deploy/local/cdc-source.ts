/**
 * The source half of the local CDC chain: PostgreSQL with seed 004's `ecommerce` database and
 * Kafka Connect running Debezium's connector `ecommerce` (topic prefix `ecommerce`, slot
 * `eddy_ecommerce`, 12 partitions), or MariaDB with the same database and the connector
 * `ecommerce_mysql` (topic prefix `ecommerce_mysql`, topics `ecommerce_mysql.ecommerce.<table>`),
 * with the local PostgreSQL as the analytics side. Shared by `eddy stack up --postgres|--mysql`
 * and `eddy up --cdc postgres|mysql`.
 */
import type { EddyConfig } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import { connectPid, connectUrl, mysqlConnectorConfig, postgresConnectorConfig, registerConnector, startConnect, stopConnect } from './connect.ts';
import { mysqlPid, mysqlUrl, startMysql, stopMysql } from './mysql.ts';
import type { StartOutcome } from './kafka.ts';
import { postgresPid, postgresUrl, startPostgres, stopPostgres } from './postgres.ts';

export const ecommerceConnector = { name: 'ecommerce', topicPrefix: 'ecommerce', slot: 'eddy_ecommerce', partitions: 12 } as const;
/** The MySQL side's connector: its own prefix (and so job name), apart from the PostgreSQL side's. */
export const ecommerceMysqlConnector = { name: 'ecommerce_mysql', topicPrefix: 'ecommerce_mysql', database: 'ecommerce', partitions: 12 } as const;

export interface CdcSource {
  postgres: StartOutcome;
  connect: StartOutcome;
  /** Set for the MySQL side. */
  mysql?: StartOutcome;
  /** The source database's URL (PostgreSQL's, or MariaDB's on the MySQL side). */
  sourceUrl: string;
  /** Where the analytics go: always the local PostgreSQL. */
  postgresUrl: string;
  connectUrl: string;
  /** Stops what this call started (Connect first: it reads PostgreSQL). Idempotent. */
  stopStarted(): Promise<void>;
}

/** Starts (or reuses) PostgreSQL and Connect and registers the connector, waiting until it runs. */
export async function startPostgresSource(config: EddyConfig, brokers: string[], logger: Logger, registerStop?: (stop: () => Promise<void>) => void): Promise<CdcSource> {
  const ours = new Set<'postgres' | 'connect' | 'mysql'>();
  const source: CdcSource = {
    postgres: 'reused',
    connect: 'reused',
    sourceUrl: postgresUrl(config),
    postgresUrl: postgresUrl(config),
    connectUrl: connectUrl(config),
    stopStarted: async () => {
      if (ours.has('connect')) await stopConnect(config);
      if (ours.has('postgres')) await stopPostgres(config);
      ours.clear();
      source.connect = source.postgres = 'reused';
    },
  };
  registerStop?.(() => source.stopStarted()); // before anything starts: a Ctrl-C during a start stops it too
  try {
    source.postgres = await startOurs(ours, 'postgres', postgresPid(config), () => startPostgres(config, logger));
    source.connect = await startOurs(ours, 'connect', connectPid(config), () => startConnect(config, brokers, logger));
    await registerConnector(config, ecommerceConnector.name, postgresConnectorConfig(config, ecommerceConnector), 120_000);
  } catch (err) {
    await source.stopStarted();
    throw err;
  }
  return source;
}

/** The MySQL side: MariaDB as the source, PostgreSQL for the analytics, Connect with the MariaDB connector. */
export async function startMysqlSource(config: EddyConfig, brokers: string[], logger: Logger, registerStop?: (stop: () => Promise<void>) => void): Promise<CdcSource> {
  const ours = new Set<'postgres' | 'connect' | 'mysql'>();
  const source: CdcSource = {
    postgres: 'reused',
    connect: 'reused',
    mysql: 'reused',
    sourceUrl: mysqlUrl(config),
    postgresUrl: postgresUrl(config),
    connectUrl: connectUrl(config),
    stopStarted: async () => {
      if (ours.has('connect')) await stopConnect(config);
      if (ours.has('mysql')) await stopMysql(config);
      if (ours.has('postgres')) await stopPostgres(config);
      ours.clear();
      source.connect = source.postgres = source.mysql = 'reused';
    },
  };
  registerStop?.(() => source.stopStarted()); // before anything starts: a Ctrl-C during a start stops it too
  try {
    source.mysql = await startOurs(ours, 'mysql', mysqlPid(config), () => startMysql(config, logger));
    source.postgres = await startOurs(ours, 'postgres', postgresPid(config), () => startPostgres(config, logger));
    source.connect = await startOurs(ours, 'connect', connectPid(config), () => startConnect(config, brokers, logger));
    const { name, topicPrefix, partitions } = ecommerceMysqlConnector;
    await registerConnector(config, name, mysqlConnectorConfig(config, { name, topicPrefix, partitions, brokers }), 120_000);
  } catch (err) {
    await source.stopStarted();
    throw err;
  }
  return source;
}

/** Starts a server, counting it as this call's from before the start when none was running (so a stop during the start stops it). */
async function startOurs<T extends string>(ours: Set<T>, name: T, runningPid: number | undefined, start: () => Promise<StartOutcome>): Promise<StartOutcome> {
  if (runningPid === undefined) ours.add(name);
  const outcome = await start();
  if (outcome === 'reused') ours.delete(name);
  return outcome;
}

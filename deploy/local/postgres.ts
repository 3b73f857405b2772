/**
 * A real PostgreSQL for the CDC chain (Debezium reads its WAL): Debian's server binaries, one
 * cluster created with `initdb` on first use, listening on loopback only, `wal_level=logical`,
 * with the `ecommerce` database of seed 004 (deploy/local/postgres/ecommerce.sql) created once.
 * Started on demand, reused while running, stopped by `eddy stack down`, tracked by a pid file
 * like Kafka and NATS.
 *
 * PostgreSQL refuses to run as root. Run as root (CI, containers), the cluster belongs to the
 * `postgres` system user (Debian's package creates it), its processes are started with `setpriv`
 * as that user, and its directory is `/var/lib/eddy/<id>/postgres` (a root home is closed to
 * other users); otherwise it lives in `<local.stateDir>/postgres` and runs as the caller.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { EddyConfig } from '../../common/config.ts';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { StartOutcome } from './kafka.ts';
import { isPortOpen, livePid, runOrThrow, startDaemon, stopDaemon, waitUntil, which } from './processes.ts';

/** The database the demo shop lives in, and the role Eddy connects as. */
export const postgresDatabase = 'ecommerce';
export const postgresUser = 'eddy';

const readyTimeoutMs = 60_000;
const schemaFile = new URL('./postgres/ecommerce.sql', import.meta.url);
const analyticsFile = new URL('./postgres/analytics.sql', import.meta.url);

type Paths = { dir: string; data: string; pidFile: string; logFile: string; owner: string | undefined };

function paths(config: EddyConfig): Paths {
  const root = process.getuid?.() === 0;
  const id = createHash('sha256').update(config.local.stateDir).digest('hex').slice(0, 12);
  const dir = root ? join('/var/lib/eddy', id, 'postgres') : join(config.local.stateDir, 'postgres');
  return { dir, data: join(dir, 'data'), pidFile: join(dir, 'postgres.pid'), logFile: join(dir, 'postgres.log'), owner: root ? 'postgres' : undefined };
}

/** The connection string of the local PostgreSQL's `ecommerce` database (no password: trust on loopback). */
export function postgresUrl(config: EddyConfig, database = postgresDatabase): string {
  return `postgres://${postgresUser}@${config.local.host}:${config.local.postgresPort}/${database}`;
}

/**
 * The directory of PostgreSQL's server programs: `$EDDY_POSTGRES_BIN`, the newest
 * `/usr/lib/postgresql/<version>/bin` (Debian's layout), or `pg_config --bindir`.
 * @throws MissingPrerequisiteError in one sentence when there is none
 */
export function postgresBinDir(): string {
  const fromEnv = process.env.EDDY_POSTGRES_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(debian, v, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  const pgConfig = which('pg_config');
  const bindir = pgConfig === undefined ? undefined : runOrThrow('pg_config', pgConfig, ['--bindir']).trim();
  if (bindir !== undefined && existsSync(join(bindir, 'postgres'))) return bindir;
  throw new MissingPrerequisiteError("PostgreSQL's server was not found: install Debian's postgresql package (apt-get install postgresql), or set EDDY_POSTGRES_BIN to its bin directory.");
}

/** `command args` as the cluster's owner: through `setpriv` when we are root. */
function asOwner(p: Paths, command: string, args: string[]): { command: string; args: string[] } {
  if (p.owner === undefined) return { command, args };
  const setpriv = which('setpriv');
  if (setpriv === undefined) throw new MissingPrerequisiteError("'setpriv' was not found: install Debian's util-linux package (PostgreSQL must not run as root).");
  return { command: setpriv, args: [`--reuid=${p.owner}`, `--regid=${p.owner}`, '--init-groups', '--', command, ...args] };
}

/** True if the local PostgreSQL answers a query at `url`. */
export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Starts the local PostgreSQL unless ours is running (creating the cluster and the `ecommerce`
 * database on first use), and waits until it answers.
 */
export async function startPostgres(config: EddyConfig, logger: Logger): Promise<StartOutcome> {
  const p = paths(config);
  const { host, postgresPort } = config.local;
  const adminUrl = postgresUrl(config, 'postgres');
  const running = livePid(p.pidFile);
  if (running !== undefined) {
    await waitUntil('PostgreSQL', () => postgresAnswers(adminUrl), { timeoutMs: readyTimeoutMs, pid: running, logFile: p.logFile });
    await ensureDatabase(config, logger);
    return 'reused';
  }
  if (await isPortOpen(host, postgresPort)) {
    throw new Error(`port ${host}:${postgresPort} is in use by a process Eddy did not start: set EDDY_POSTGRES_PORT to pick a free port`);
  }
  const bin = postgresBinDir();
  mkdirSync(p.dir, { recursive: true });
  if (p.owner !== undefined) runOrThrow('chown', 'chown', [p.owner, p.dir]);
  if (!existsSync(join(p.data, 'PG_VERSION'))) {
    logger.info({ data: p.data }, 'creating the PostgreSQL cluster (first run only)');
    const init = asOwner(p, join(bin, 'initdb'), ['-D', p.data, '-U', postgresUser, '--auth=trust', '--encoding=UTF8', '--locale=C']);
    runOrThrow('initdb', init.command, init.args);
  }
  const server = asOwner(p, join(bin, 'postgres'), [
    '-D', p.data,
    '-c', `listen_addresses=${host}`,
    '-c', `port=${postgresPort}`,
    '-c', `unix_socket_directories=${p.data}`,
    // What Debezium's PostgreSQL connector needs: logical decoding, a slot and a sender per connector.
    '-c', 'wal_level=logical',
    '-c', 'max_replication_slots=10',
    '-c', 'max_wal_senders=10',
    '-c', 'shared_buffers=64MB',
  ]);
  const pid = startDaemon({ name: 'postgres', command: server.command, args: server.args, pidFile: p.pidFile, logFile: p.logFile });
  logger.info({ serverPid: pid, url: `postgres://${host}:${postgresPort}`, log: p.logFile }, 'starting PostgreSQL');
  await waitUntil('PostgreSQL', () => postgresAnswers(adminUrl), { timeoutMs: readyTimeoutMs, pid, logFile: p.logFile });
  await ensureDatabase(config, logger);
  return 'started';
}

/**
 * Creates the `ecommerce` database with seed 004's schema and sample data unless it exists, and
 * the `analytics` tables the job writes unless they exist.
 */
async function ensureDatabase(config: EddyConfig, logger: Logger): Promise<void> {
  const admin = new pg.Client({ connectionString: postgresUrl(config, 'postgres') });
  await admin.connect();
  let created = false;
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [postgresDatabase]);
    if (found.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${postgresDatabase}`);
      created = true;
    }
  } finally {
    await admin.end();
  }
  const db = new pg.Client({ connectionString: postgresUrl(config) });
  await db.connect();
  try {
    if (created) await db.query(readFileSync(schemaFile, 'utf8'));
    await db.query(readFileSync(analyticsFile, 'utf8'));
  } finally {
    await db.end();
  }
  if (created) logger.info({ database: postgresDatabase }, 'created the ecommerce database (seed 004 schema and sample data)');
}

/** Stops the local PostgreSQL (fast shutdown: open sessions are ended). Idempotent. */
export function stopPostgres(config: EddyConfig): Promise<boolean> {
  return stopDaemon(paths(config).pidFile, 30_000, 'SIGINT');
}

/** Where the local PostgreSQL keeps its cluster, log and pid file. */
export function postgresDir(config: EddyConfig): string {
  return paths(config).dir;
}

export function postgresPid(config: EddyConfig): number | undefined {
  return livePid(paths(config).pidFile);
}

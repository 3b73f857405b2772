/**
 * A real MariaDB (Debian's MySQL) for the CDC chain: Debian's server binaries, a data directory
 * made with `mariadb-install-db` on first use, listening on loopback only, the binlog on in row
 * format with full row images (what Debezium reads), and the `ecommerce` database of seed 004
 * (deploy/local/mysql/ecommerce.sql) created once with the role `eddy` (no password, from
 * 127.0.0.1 only) holding the grants Debezium needs. Started on demand, reused while running,
 * stopped by `eddy stack down`, tracked by a pid file like the other local servers.
 *
 * Run as root (CI, containers), the server runs as Debian's `mysql` system user through
 * `setpriv`, in `/var/lib/eddy/<id>/mysql`; otherwise in `<local.stateDir>/mysql` as the caller.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { EddyConfig } from '../../common/config.ts';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { StartOutcome } from './kafka.ts';
import { isPortOpen, livePid, runOrThrow, startDaemon, stopDaemon, waitUntil, which } from './processes.ts';

export const mysqlDatabase = 'ecommerce';
export const mysqlUser = 'eddy';

const readyTimeoutMs = 60_000;
const schemaFile = new URL('./mysql/ecommerce.sql', import.meta.url);

type Paths = { dir: string; data: string; socket: string; pidFile: string; logFile: string; owner: string | undefined };

function paths(config: EddyConfig): Paths {
  const root = process.getuid?.() === 0;
  const id = createHash('sha256').update(config.local.stateDir).digest('hex').slice(0, 12);
  const dir = root ? join('/var/lib/eddy', id, 'mysql') : join(config.local.stateDir, 'mysql');
  return { dir, data: join(dir, 'data'), socket: join(dir, 'mysqld.sock'), pidFile: join(dir, 'mysql.pid'), logFile: join(dir, 'mysql.log'), owner: root ? 'mysql' : undefined };
}

/** How to reach the local MariaDB's `ecommerce` database as `eddy` (mysql2 options). */
export function mysqlConnection(config: EddyConfig, database = mysqlDatabase): { host: string; port: number; user: string; database: string } {
  return { host: config.local.host, port: config.local.mysqlPort, user: mysqlUser, database };
}

/** The same as a URL, for people (`mysql://eddy@127.0.0.1:13306/ecommerce`). */
export function mysqlUrl(config: EddyConfig): string {
  return `mysql://${mysqlUser}@${config.local.host}:${config.local.mysqlPort}/${mysqlDatabase}`;
}

function serverBinaries(): { server: string; installDb: string } {
  const server = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld'].find((p) => existsSync(p)) ?? which('mariadbd');
  const installDb = which('mariadb-install-db') ?? which('mysql_install_db');
  if (server === undefined || installDb === undefined) {
    throw new MissingPrerequisiteError("MariaDB's server was not found: install Debian's mariadb-server package (apt-get install mariadb-server).");
  }
  return { server, installDb };
}

function asOwner(p: Paths, command: string, args: string[]): { command: string; args: string[] } {
  if (p.owner === undefined) return { command, args };
  const setpriv = which('setpriv');
  if (setpriv === undefined) throw new MissingPrerequisiteError("'setpriv' was not found: install Debian's util-linux package (MariaDB does not run as root here).");
  return { command: setpriv, args: [`--reuid=${p.owner}`, `--regid=${p.owner}`, '--init-groups', '--', command, ...args] };
}

/** True if the local MariaDB answers as `eddy` (or, before `eddy` exists, as root on its socket). */
async function answers(config: EddyConfig, asRoot: boolean): Promise<boolean> {
  const p = paths(config);
  const options = asRoot ? { socketPath: p.socket, user: 'root' } : { ...mysqlConnection(config), database: undefined };
  try {
    const connection = await mysql.createConnection({ ...options, connectTimeout: 1_000 });
    await connection.query('SELECT 1');
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

/** Starts the local MariaDB unless ours is running (creating it and the `ecommerce` database on first use). */
export async function startMysql(config: EddyConfig, logger: Logger): Promise<StartOutcome> {
  const p = paths(config);
  const { host, mysqlPort } = config.local;
  const running = livePid(p.pidFile);
  if (running !== undefined) {
    await waitUntil('MariaDB', () => answers(config, true), { timeoutMs: readyTimeoutMs, pid: running, logFile: p.logFile });
    await ensureDatabase(config, logger);
    return 'reused';
  }
  if (await isPortOpen(host, mysqlPort)) {
    throw new Error(`port ${host}:${mysqlPort} is in use by a process Eddy did not start: set EDDY_MYSQL_PORT to pick a free port`);
  }
  const { server, installDb } = serverBinaries();
  mkdirSync(p.dir, { recursive: true });
  if (p.owner !== undefined) runOrThrow('chown', 'chown', [p.owner, p.dir]);
  if (!existsSync(join(p.data, 'mysql'))) {
    logger.info({ data: p.data }, 'creating the MariaDB data directory (first run only)');
    const init = asOwner(p, installDb, [`--datadir=${p.data}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve']);
    runOrThrow('mariadb-install-db', init.command, init.args);
  }
  const run = asOwner(p, server, [
    '--no-defaults',
    `--datadir=${p.data}`,
    `--socket=${p.socket}`,
    `--bind-address=${host}`,
    `--port=${mysqlPort}`,
    '--skip-name-resolve',
    // DATETIME values are taken as UTC by Debezium: keep the server's clock functions in UTC too.
    '--default-time-zone=+00:00',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    // What Debezium reads: the binlog, in row format with whole rows, and a server id.
    '--server-id=1',
    `--log-bin=${join(p.data, 'binlog')}`,
    '--binlog-format=ROW',
    '--binlog-row-image=FULL',
    '--innodb-buffer-pool-size=64M',
  ]);
  const pid = startDaemon({ name: 'mariadb', command: run.command, args: run.args, pidFile: p.pidFile, logFile: p.logFile });
  logger.info({ serverPid: pid, url: mysqlUrl(config), log: p.logFile }, 'starting MariaDB');
  await waitUntil('MariaDB', () => answers(config, true), { timeoutMs: readyTimeoutMs, pid, logFile: p.logFile });
  await ensureDatabase(config, logger);
  return 'started';
}

/** Creates the role `eddy` with Debezium's grants and the `ecommerce` database with its sample rows, unless they exist. */
async function ensureDatabase(config: EddyConfig, logger: Logger): Promise<void> {
  const root = await mysql.createConnection({ socketPath: paths(config).socket, user: 'root', multipleStatements: true });
  try {
    const [found] = await root.query<mysql.RowDataPacket[]>('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [mysqlDatabase]);
    if (found.length > 0) return;
    await root.query(`CREATE USER IF NOT EXISTS '${mysqlUser}'@'${config.local.host}'`);
    await root.query(`GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO '${mysqlUser}'@'${config.local.host}'`);
    await root.query(`CREATE DATABASE ${mysqlDatabase}`);
    await root.query(`GRANT ALL ON ${mysqlDatabase}.* TO '${mysqlUser}'@'${config.local.host}'`);
    await root.query(`USE ${mysqlDatabase}; ${readFileSync(schemaFile, 'utf8')}`);
    logger.info({ database: mysqlDatabase }, 'created the ecommerce database in MariaDB (seed 004 schema and sample data)');
  } finally {
    await root.end();
  }
}

/** Stops the local MariaDB. Idempotent. */
export function stopMysql(config: EddyConfig): Promise<boolean> {
  return stopDaemon(paths(config).pidFile, 30_000);
}

export function mysqlDir(config: EddyConfig): string {
  return paths(config).dir;
}

export function mysqlPid(config: EddyConfig): number | undefined {
  return livePid(paths(config).pidFile);
}

/** True if the local MariaDB answers as `eddy`. */
export function mysqlAnswers(config: EddyConfig): Promise<boolean> {
  return answers(config, false);
}

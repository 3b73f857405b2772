/**
 * The local PostgreSQL of the CDC chain (deploy/local/postgres.ts), started for real in a state
 * directory and on a port of the test's own: logical WAL, seed 004's database with its sample
 * rows and publication, reuse of a running server, a one-sentence refusal of a port someone else
 * holds, and a stop that leaves nothing running. Everything the test starts it stops and removes.
 */
import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { freePort } from '../../deploy/local/local-cluster.ts';
import { postgresAnswers, postgresDir, postgresPid, postgresUrl, startPostgres, stopPostgres } from '../../deploy/local/postgres.ts';
import { uniqueName } from './support.ts';

describe('local PostgreSQL', () => {
  const stateDir = join(tmpdir(), uniqueName('eddy-pg-state'));
  let config: ReturnType<typeof loadConfig> | undefined;
  afterAll(async () => {
    if (config === undefined) return;
    await stopPostgres(config);
    // As root the cluster lives in /var/lib/eddy/<id>/postgres: the id directory is the test's too.
    rmSync(process.getuid?.() === 0 ? dirname(postgresDir(config)) : postgresDir(config), { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts with logical WAL and the seed 004 database, is reused while running, and stops', async () => {
    config = loadConfig({ env: { ...process.env, EDDY_STATE_DIR: stateDir, EDDY_POSTGRES_PORT: String(await freePort()) } });
    const logger = createLogger('test-postgres');
    expect(await startPostgres(config, logger)).toBe('started');
    const pid = postgresPid(config);
    expect(pid).toBeDefined();

    const client = new pg.Client({ connectionString: postgresUrl(config) });
    await client.connect();
    try {
      const setting = async (name: string) => (await client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]?.setting;
      expect(await setting('wal_level')).toBe('logical');
      expect(await setting('listen_addresses')).toBe('127.0.0.1');
      const tables = await client.query<{ tablename: string }>("SELECT tablename FROM pg_publication_tables WHERE pubname = 'eddy_ecommerce' ORDER BY tablename");
      expect(tables.rows.map((r) => r.tablename)).toEqual(['order_items', 'orders', 'products', 'users']);
      const counts = await client.query<{ users: string; products: string; orders: string; items: string }>(
        'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_items) AS items',
      );
      expect(counts.rows[0]).toEqual({ users: '5', products: '5', orders: '2', items: '3' });
      await client.query("INSERT INTO users (email) VALUES ('new@example.com')");
    } finally {
      await client.end();
    }

    expect(await startPostgres(config, logger)).toBe('reused');
    expect(postgresPid(config)).toBe(pid);
    const again = new pg.Client({ connectionString: postgresUrl(config) });
    await again.connect();
    expect((await again.query<{ n: string }>('SELECT count(*) AS n FROM users')).rows[0]?.n).toBe('6'); // the same cluster, not a new one
    await again.end();

    expect(await stopPostgres(config)).toBe(true);
    expect(postgresPid(config)).toBeUndefined();
    expect(await postgresAnswers(postgresUrl(config, 'postgres'))).toBe(false);
    expect(await stopPostgres(config)).toBe(false); // idempotent
  }, 120_000);

  it('refuses a port held by a process it did not start, in one sentence naming the variable to set', async () => {
    const port = await freePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const busy = loadConfig({ env: { ...process.env, EDDY_STATE_DIR: stateDir, EDDY_POSTGRES_PORT: String(port) } });
      await expect(startPostgres(busy, createLogger('test-postgres'))).rejects.toThrow(`port 127.0.0.1:${port} is in use by a process Eddy did not start: set EDDY_POSTGRES_PORT to pick a free port`);
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

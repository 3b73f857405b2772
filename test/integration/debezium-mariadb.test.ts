/**
 * Debezium's MariaDB connector on Kafka Connect against a real MariaDB started by the project:
 * the values MySQL's types become (BIGINT beyond 2^53, exact decimals, DATETIME at two precisions,
 * TIMESTAMP, DATE, TIME, YEAR, ENUM, JSON, BIT), decoded by `debezium()` from records captured
 * off the real connector, with the binlog positions truncates are ordered by.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { deleteConnector, mysqlConnectorConfig, registerConnector, startConnect, stopConnect } from '../../deploy/local/connect.ts';
import { freePort } from '../../deploy/local/local-cluster.ts';
import { mysqlConnection, mysqlDir, startMysql, stopMysql } from '../../deploy/local/mysql.ts';
import { decodeDebezium, type DebeziumChange, type DebeziumDecodeOptions } from '../../job/formats/debezium.ts';
import { cdcChainConfig, waitForTopics } from './cdc-chain.ts';
import { readUntil, testKafka, uniqueName, type ReadRecord } from './support.ts';

describe('Debezium MariaDB connector on Kafka Connect, against a real MariaDB', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy_mdb').replace(/-/g, '_');
  let config: EddyConfig | undefined;
  afterAll(async () => {
    if (config === undefined) return;
    await deleteConnector(config, prefix).catch(() => undefined);
    await stopConnect(config);
    await stopMysql(config);
    // As root MariaDB lives in /var/lib/eddy/<id>/mysql: the id directory is the test's too.
    rmSync(process.getuid?.() === 0 ? dirname(mysqlDir(config)) : mysqlDir(config), { recursive: true, force: true });
    rmSync(config.local.stateDir, { recursive: true, force: true });
  });

  it("decodes MySQL's types as the real connector sends them", async () => {
    const base = await cdcChainConfig();
    config = { ...base, local: { ...base.local, mysqlPort: await freePort() } };
    const logger = createLogger('test-mariadb');
    await startMysql(config, logger);
    const db = await mysql.createConnection({ ...mysqlConnection(config), multipleStatements: true });
    await db.query(`CREATE TABLE kinds (id BIGINT PRIMARY KEY, exact DECIMAL(30,4), dt3 DATETIME(3), dt6 DATETIME(6), ts TIMESTAMP(6) NULL, d DATE, t6 TIME(6), y YEAR, e ENUM('low','high'), j JSON, b BIT(1));
      INSERT INTO kinds VALUES (9007199254740993, 12345678901234567890.1234, '2026-12-01 10:00:00.123', '2026-12-01 10:00:00.123456', '2026-12-01 10:00:00.123456', '2026-12-01', '10:00:00.123456', 2026, 'high', '{"a": [1, 2]}', b'1'),
                               (2, 19.99, '1969-12-31 23:59:59.999', NULL, NULL, '1969-12-31', '00:00:00', NULL, 'low', NULL, b'0');`);
    await startConnect(config, inject('brokers'), logger);
    await registerConnector(config, prefix, mysqlConnectorConfig(config, { name: prefix, topicPrefix: prefix, partitions: 1, brokers: inject('brokers'), settings: { 'table.include.list': 'ecommerce.kinds' } }), 120_000);
    const topic = `${prefix}.ecommerce.kinds`;
    await waitForTopics(kafka, [topic]);
    await readUntil(kafka, { topics: [topic], timeoutMs: 120_000, done: (r) => r.length >= 2 });
    await db.query('UPDATE kinds SET y = 1999 WHERE id = 2; TRUNCATE TABLE kinds');
    await db.end();
    const records = await readUntil(kafka, { topics: [topic], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= 4 });
    const decode = (r: ReadRecord, options: DebeziumDecodeOptions = {}) => {
      try {
        return decodeDebezium(r.value, `${r.topic}@${r.offset}`, options, { key: r.key });
      } catch (thrown) {
        return { error: (thrown as Error).message };
      }
    };
    expect(records).toHaveLength(4);
    const [first, second, update, truncate] = records as [ReadRecord, ReadRecord, ReadRecord, ReadRecord];
    // The snapshot reads in primary-key order.
    const [small, big] = [first, second];
    expect((decode(big) as { error: string }).error).toMatch(/field 'payload\.after\.id': integer 9007199254740993 is beyond 2\^53/);
    expect((decode(big, { int64: 'string', decimals: 'string', temporal: 'iso' }) as DebeziumChange).after).toEqual({
      id: '9007199254740993', exact: '12345678901234567890.1234', dt3: '2026-12-01T10:00:00.123', dt6: '2026-12-01T10:00:00.123456', ts: '2026-12-01T10:00:00.123456Z',
      d: '2026-12-01', t6: '10:00:00.123456', y: 2026, e: 'high', j: '{"a": [1, 2]}', b: true, // MariaDB's JSON is text, kept as written
    });
    expect((decode(big, { int64: 'string', decimals: 'string' }) as DebeziumChange).after).toMatchObject({ dt3: 1796119200123, dt6: 1796119200123456, d: 20788, t6: 36000123456 });
    expect((decode(small, { int64: 'string', temporal: 'iso' }) as DebeziumChange).after).toEqual({ id: '2', exact: 19.99, dt3: '1969-12-31T23:59:59.999', dt6: null, ts: null, d: '1969-12-31', t6: '00:00:00.000000', y: null, e: 'low', j: null, b: false });
    // The binlog gives full before images; the position orders a truncate after the update.
    const updated = decode(update, { int64: 'string' }) as DebeziumChange;
    expect([updated.op, updated.before?.y, updated.after?.y]).toEqual(['u', null, 1999]);
    const truncated = decode(truncate) as DebeziumChange;
    expect(truncated.op).toBe('t');
    expect([typeof updated.source.file, Number(truncated.source.pos) > Number(updated.source.pos)]).toEqual(['string', true]);
  }, 300_000);
});

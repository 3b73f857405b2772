/**
 * The real CDC chain's first half: a PostgreSQL started by the project, Kafka Connect with
 * Debezium's PostgreSQL connector (jars from Maven Central) registered over its REST API, and the
 * local Kafka. The initial snapshot and live changes (update, insert, delete, truncate) arrive
 * as Debezium change events that Eddy's decoder reads, with the facts later steps build on: LSN
 * positions, key-only `before` images of deletes, and keyless truncates. Everything the test
 * starts it stops, and its directories, slot and connector go.
 */
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { postgresConnectorConfig, registerConnector, startConnect } from '../../deploy/local/connect.ts';
import { postgresUrl, startPostgres } from '../../deploy/local/postgres.ts';
import { decodeDebezium, decodeDebeziumKey, type DebeziumChange } from '../../job/formats/debezium.ts';
import { cdcChainConfig, stopCdcChain, waitForTopics } from './cdc-chain.ts';
import { readUntil, testKafka, uniqueName, type ReadRecord } from './support.ts';

describe('Debezium PostgreSQL connector on Kafka Connect, against a real PostgreSQL', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy_cdc').replace(/-/g, '_');
  let config: EddyConfig | undefined;
  afterAll(async () => {
    if (config !== undefined) await stopCdcChain(config, prefix);
  });

  it('streams the snapshot and live changes as Debezium events Eddy decodes', async () => {
    config = await cdcChainConfig();
    const logger = createLogger('test-cdc');
    expect(await startPostgres(config, logger)).toBe('started');
    // A table of decimals beyond the shop's DECIMAL(10,2): longer than a JavaScript number holds, negative, and without a scale.
    const setup = new pg.Client({ connectionString: postgresUrl(config) });
    await setup.connect();
    await setup.query('CREATE TABLE amounts (id SERIAL PRIMARY KEY, exact NUMERIC(30,4), free NUMERIC)');
    await setup.query('ALTER PUBLICATION eddy_ecommerce ADD TABLE amounts');
    await setup.query("INSERT INTO amounts (exact, free) VALUES (19.99, 3.14159), (-0.0001, -42), (12345678901234567890.1234, 0.5)");
    await setup.end();
    expect(await startConnect(config, inject('brokers'), logger)).toBe('started');
    const settings = { 'table.include.list': 'public.users,public.products,public.orders,public.order_items,public.amounts' };
    await registerConnector(config, prefix, postgresConnectorConfig(config, { name: prefix, topicPrefix: prefix, slot: prefix, partitions: 4, settings }), 120_000);

    const topics = ['users', 'products', 'orders', 'order_items', 'amounts'].map((t) => `${prefix}.public.${t}`);
    await waitForTopics(kafka, topics);
    const decoded = (records: ReadRecord[]) => records.map((r) => ({ topic: r.topic, key: r.key === null ? null : String(r.key), change: decodeDebezium(r.value, `${r.topic}@${r.offset}`) as DebeziumChange<Record<string, unknown>> }));
    const shopTopics = topics.filter((t) => !t.endsWith('.amounts'));
    const snapshot = decoded(await readUntil(kafka, { topics: shopTopics, timeoutMs: 120_000, settleMs: 1_000, done: (r) => r.length >= 15 }));
    expect(snapshot).toHaveLength(15);
    expect(new Set(snapshot.map((e) => e.change.op))).toEqual(new Set(['r']));
    expect(snapshot.filter((e) => e.topic.endsWith('.products')).map((e) => e.change.after?.name).sort()).toEqual(['Board Game', 'Cookbook', 'Garden Hose', 'Mechanical Keyboard', 'Wireless Mouse']);

    const db = new pg.Client({ connectionString: postgresUrl(config) });
    await db.connect();
    try {
      await db.query("UPDATE products SET stock_quantity = 7 WHERE name = 'Wireless Mouse'");
      await db.query("INSERT INTO products (name, category, price, stock_quantity) VALUES ('Lamp', 'home', 12.00, 3)");
      await db.query('DELETE FROM order_items WHERE item_id = 3');
      await db.query('TRUNCATE order_items');
    } finally {
      await db.end();
    }
    // After the snapshot: the update, the insert, the delete (and its tombstone) and the
    // truncate, one event for the whole table. Topics interleave, so order them by LSN.
    const all = decoded(await readUntil(kafka, { topics: shopTopics, timeoutMs: 60_000, settleMs: 2_000, done: (r) => r.filter((x) => x.value !== null).length >= 19 }));
    const live = all.filter((e) => e.change !== null && e.change.op !== 'r').sort((a, b) => Number(a.change.source.lsn) - Number(b.change.source.lsn));
    expect(live.map((e) => `${e.topic.split('.').pop()}:${e.change.op}`)).toEqual(['products:u', 'products:c', 'order_items:d', 'order_items:t']);
    const [update, insert, del, truncate] = live as [(typeof live)[number], (typeof live)[number], (typeof live)[number], (typeof live)[number]];
    expect(update.change.after).toMatchObject({ name: 'Wireless Mouse', stock_quantity: 7 });
    expect(update.change.before).toBeNull(); // pgoutput with REPLICA IDENTITY DEFAULT sends no before image of an update
    expect(insert.change.after).toMatchObject({ name: 'Lamp', category: 'home', stock_quantity: 3 });
    // A delete's before image holds the key; the other columns are not the row's (Debezium fills them in).
    expect(del.change.before?.item_id).toBe(3);
    expect(truncate.key).toBeNull();
    // Positions that order a truncate against row changes across partitions: one LSN each, in commit order (above).
    const lsns = live.map((e) => e.change.source.lsn);
    expect(lsns.every((lsn) => typeof lsn === 'number' && Number.isSafeInteger(lsn) && lsn > 0)).toBe(true);
    expect(new Set(lsns).size).toBe(4);
    // decimal.handling.mode=precise (Debezium's default) sends DECIMAL(10,2) as base64 bytes of
    // the unscaled value, described by the schema; the decoder reads it exactly.
    expect(insert.change.after?.price).toBe(12);
    expect(snapshot.find((e) => e.change.after?.name === 'Wireless Mouse')?.change.after?.price).toBe(24.99);

    // Decimals of every shape, from the real connector, as numbers and as text.
    const amounts = (await readUntil(kafka, { topics: [`${prefix}.public.amounts`], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= 3 })).sort(
      (a, b) => Number(decodeDebeziumKey(a.key, 'key')?.id) - Number(decodeDebeziumKey(b.key, 'key')?.id), // partitions interleave
    );
    const rows = (decimals: 'number' | 'string') =>
      amounts.map((r) => {
        try {
          return decodeDebezium(r.value, `amounts@${r.offset}`, { decimals })?.after;
        } catch (thrown) {
          return { error: (thrown as Error).message };
        }
      });
    expect(rows('string')).toEqual([
      { id: 1, exact: '19.9900', free: '3.14159' },
      { id: 2, exact: '-0.0001', free: '-42' },
      { id: 3, exact: '12345678901234567890.1234', free: '0.5' },
    ]);
    expect(rows('number')).toEqual([
      { id: 1, exact: 19.99, free: 3.14159 },
      { id: 2, exact: -0.0001, free: -42 },
      { error: expect.stringMatching(/field 'payload\.after\.exact': decimal 12345678901234567890\.1234 has 24 significant digits, more than a JavaScript number holds exactly; read decimals as text with debezium\(\{ decimals: 'string' \}\)/) as unknown as string },
    ]);

    // A column added while the connector runs reaches the decoded rows; one dropped leaves them.
    const alter = new pg.Client({ connectionString: postgresUrl(config) });
    await alter.connect();
    await alter.query('ALTER TABLE products ADD COLUMN color TEXT');
    await alter.query("UPDATE products SET color = 'red' WHERE name = 'Lamp'");
    await alter.query('ALTER TABLE products DROP COLUMN color');
    await alter.query("UPDATE products SET stock_quantity = 2 WHERE name = 'Lamp'");
    await alter.end();
    const lamp = decoded(await readUntil(kafka, { topics: [`${prefix}.public.products`], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= 9 }))
      .filter((e) => e.change?.after?.name === 'Lamp')
      .sort((a, b) => Number(a.change.source.lsn) - Number(b.change.source.lsn));
    expect(lamp.map((e) => [e.change.after?.color, e.change.after?.stock_quantity])).toEqual([
      [undefined, 3],
      ['red', 3],
      [undefined, 2],
    ]);

    // The same rows through connectors in the other settings: without the schema (the decoder is
    // told the column's type), and with decimal.handling.mode string and double.
    const modes = [
      { name: 'nos', settings: {} as Record<string, string>, sentAs: 'bytes' as const },
      { name: 'txt', settings: { 'decimal.handling.mode': 'string' }, sentAs: 'text' as const },
      { name: 'dbl', settings: { 'decimal.handling.mode': 'double' }, sentAs: 'double' as const },
    ];
    for (const mode of modes) {
      const name = `${prefix}_${mode.name}`;
      const schemaless = { 'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'key.converter.schemas.enable': 'false', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter.schemas.enable': 'false' };
      await registerConnector(config, name, postgresConnectorConfig(config, { name, topicPrefix: name, slot: name, partitions: 1, settings: { ...settings, ...schemaless, ...mode.settings } }), 120_000);
      const topic = `${name}.public.products`;
      await waitForTopics(kafka, [topic]);
      const products = await readUntil(kafka, { topics: [topic], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= 6 });
      const raw = JSON.parse(String(products[0]?.value)) as Record<string, unknown>;
      expect('schema' in raw).toBe(false); // schemas.enable=false: the envelope alone
      const prices = products.map((r) => decodeDebezium(r.value, `${topic}@${r.offset}`, { columns: { price: { decimal: 2, sentAs: mode.sentAs } } })?.after?.price).sort();
      expect(prices, mode.name).toEqual([12, 19.99, 24.99, 29, 44.95, 89.5]);
      const texts = products.map((r) => decodeDebezium(r.value, `${topic}@${r.offset}`, { decimals: 'string', columns: { price: { decimal: 2, sentAs: mode.sentAs } } })?.after?.price).sort();
      expect(texts, mode.name).toEqual(['12.00', '19.99', '24.99', '29.00', '44.95', '89.50']);
    }
  }, 400_000);
});

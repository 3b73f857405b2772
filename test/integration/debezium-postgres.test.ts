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
import { decodeDebezium, decodeDebeziumKey, type DebeziumChange, type DebeziumDecodeOptions } from '../../job/formats/debezium.ts';
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

  it('decodes int64 beyond 2^53, temporal types, infinity, TOAST, key-only deletes, key changes, messages and transactions as the real connector sends them', async () => {
    if (config === undefined) throw new Error('the first test starts PostgreSQL and Connect');
    const db = new pg.Client({ connectionString: postgresUrl(config) });
    await db.connect();
    await db.query(`CREATE TABLE public.kinds (id BIGINT PRIMARY KEY, big BIGINT, ts3 TIMESTAMP(3), ts6 TIMESTAMP(6), tstz TIMESTAMPTZ, d DATE, t6 TIME(6), t3 TIME(3), iv INTERVAL, doc TEXT, n INTEGER NOT NULL DEFAULT 5);
      ALTER TABLE public.kinds ALTER COLUMN doc SET STORAGE EXTERNAL;
      ALTER PUBLICATION eddy_ecommerce ADD TABLE public.kinds;
      INSERT INTO public.kinds VALUES
        (9007199254740993, 12345678901234567, '2026-12-01 10:00:00.123', '2026-12-01 10:00:00.123456', '2026-12-01 10:00:00.123456+02', '2026-12-01', '10:00:00.123456', '10:00:00.123', '1 year 2 months 3 days 04:05:06.789', repeat('x', 5000), 7),
        (2, -9223372036854775808, 'infinity', '-infinity', 'infinity', '1969-12-31', '24:00:00', '00:00:00', '-1 day', 'short', 1),
        (4, 0, NULL, NULL, NULL, 'infinity', NULL, NULL, NULL, NULL, 1);`);
    const name = `${prefix}_kinds`;
    const kindsSettings = { 'table.include.list': 'public.kinds', 'provide.transaction.metadata': 'true' };
    await registerConnector(config, name, postgresConnectorConfig(config, { name, topicPrefix: name, slot: name, partitions: 1, settings: kindsSettings }), 120_000);
    const topic = `${name}.public.kinds`;
    await waitForTopics(kafka, [topic]);
    await readUntil(kafka, { topics: [topic], timeoutMs: 60_000, done: (r) => r.length >= 3 }); // the snapshot, before the changes
    await db.query('UPDATE public.kinds SET n = 9 WHERE id = 9007199254740993'); // doc unchanged: TOASTed, not sent
    await db.query('UPDATE public.kinds SET id = 3, n = 8 WHERE id = 2'); // a primary-key change
    await db.query('DELETE FROM public.kinds WHERE id = 3');
    await db.query("SELECT pg_logical_emit_message(true, 'eddy-prefix', 'hello content')");
    await db.end();
    await waitForTopics(kafka, [`${name}.message`]); // Connect creates a topic as it first writes to it
    const records = await readUntil(kafka, { topics: [topic, `${name}.message`], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= 10 });
    const events = records.filter((r) => r.topic === topic && r.value !== null);
    const headers = (r: ReadRecord) => Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, String(v)]));
    const decode = (r: ReadRecord, options: DebeziumDecodeOptions = {}) => {
      try {
        return decodeDebezium(r.value, `${r.topic}@${r.offset}`, options, { key: r.key, headers: headers(r) });
      } catch (thrown) {
        return { error: (thrown as Error).message };
      }
    };
    const [first, second, fourth, toasted, keyGone, keyCame, deleted] = events;
    expect(events).toHaveLength(7);
    // int64 beyond 2^53: never rounded; a dead letter naming the column, or exact text.
    expect((decode(first as ReadRecord) as { error: string }).error).toMatch(/field 'payload\.after\.id': integer 9007199254740993 is beyond 2\^53/);
    const asText = (r: ReadRecord, temporal: 'raw' | 'iso') => (decode(r, { int64: 'string', temporal }) as DebeziumChange).after;
    expect(asText(first as ReadRecord, 'raw')).toEqual({ id: '9007199254740993', big: '12345678901234567', ts3: 1796119200123, ts6: 1796119200123456, tstz: '2026-12-01T08:00:00.123456Z', d: 20788, t6: 36000123456, t3: 36000123, iv: 37091106789000, doc: 'x'.repeat(5000), n: 7 });
    expect(asText(first as ReadRecord, 'iso')).toMatchObject({ ts3: '2026-12-01T10:00:00.123', ts6: '2026-12-01T10:00:00.123456', d: '2026-12-01', t6: '10:00:00.123456', t3: '10:00:00.123' });
    // PostgreSQL's infinity timestamps and the extremes of int64 and time.
    expect(asText(second as ReadRecord, 'iso')).toEqual({ id: '2', big: '-9223372036854775808', ts3: 'infinity', ts6: '-infinity', tstz: 'infinity', d: '1969-12-31', t6: '24:00:00.000000', t3: '00:00:00.000', iv: -86400000000, doc: 'short', n: 1 });
    expect(asText(second as ReadRecord, 'raw')).toMatchObject({ ts3: 'infinity', ts6: '-infinity', d: -1 });
    // A DATE 'infinity' arrives as a number Debezium uses for both infinities: a dead letter, not a date.
    expect((decode(fourth as ReadRecord, { int64: 'string' }) as { error: string }).error).toMatch(/field 'payload\.after\.d': date -?\d+ days from 1970-01-01 is outside PostgreSQL's range/);
    // An unchanged TOASTed column: Debezium sends a placeholder; debezium() leaves the column out
    // and names it (tables fill it from the row they hold; see applyDebezium), never the placeholder as a value.
    const toast = decode(toasted as ReadRecord, { int64: 'string' }) as DebeziumChange;
    expect([toast.after?.n, 'doc' in (toast.after ?? {}), toast.unavailable]).toEqual([9, false, ['doc']]);
    expect(toasted?.value?.toString()).toContain('__debezium_unavailable_value');
    // A key change: a delete carrying the new key, then a create carrying the old one.
    const gone = decode(keyGone as ReadRecord, { int64: 'string' }) as DebeziumChange;
    const came = decode(keyCame as ReadRecord, { int64: 'string' }) as DebeziumChange;
    expect([gone.op, gone.keyChange, came.op, came.keyChange]).toEqual(['d', { newKey: { id: 3 } }, 'c', { oldKey: { id: 2 } }]);
    expect(came.transaction).toMatchObject({ id: gone.transaction?.id, totalOrder: 2 });
    // REPLICA IDENTITY DEFAULT: the delete's before holds the key; the made-up NOT NULL default (n = 5) goes.
    expect((decode(deleted as ReadRecord, { int64: 'string' }) as DebeziumChange).before).toEqual({ id: '3' });
    expect((decode(deleted as ReadRecord, { int64: 'string', replicaIdentity: 'full' }) as DebeziumChange).before).toMatchObject({ id: '3', n: 5 });
    // op m: a logical decoding message with its prefix and content.
    const message = records.find((r) => r.topic === `${name}.message`) as ReadRecord;
    const decodedMessage = decode(message) as DebeziumChange;
    expect([decodedMessage.op, decodedMessage.message?.prefix, Buffer.from(decodedMessage.message?.content ?? '', 'base64').toString()]).toEqual(['m', 'eddy-prefix', 'hello content']);
    expect(decodedMessage.transaction?.id).toEqual(expect.any(String));

    // Other temporal settings: interval.handling.mode=string (Interval, ISO-8601 text) and
    // time.precision.mode=connect (Kafka Connect's Date, Time and Timestamp, in ms).
    const other = `${name}_tpm`;
    await registerConnector(config, other, postgresConnectorConfig(config, { name: other, topicPrefix: other, slot: other, partitions: 1, settings: { 'table.include.list': 'public.kinds', 'interval.handling.mode': 'string', 'time.precision.mode': 'connect' } }), 120_000);
    await waitForTopics(kafka, [`${other}.public.kinds`]);
    const otherRow = (await readUntil(kafka, { topics: [`${other}.public.kinds`], timeoutMs: 60_000, done: (r) => r.length >= 2 })).find((r) => String(r.key).includes('9007199254740993'));
    expect((decode(otherRow as ReadRecord, { int64: 'string', temporal: 'iso' }) as DebeziumChange).after).toMatchObject({ iv: 'P1Y2M3DT4H5M6.789S', ts3: '2026-12-01T10:00:00.123', ts6: '2026-12-01T10:00:00.123', d: '2026-12-01', t6: '10:00:00.123' });
    expect((decode(otherRow as ReadRecord, { int64: 'string' }) as DebeziumChange).after).toMatchObject({ ts6: 1796119200123, d: 20788, t6: 36000123 });

    // Without the schema (schemas.enable=false): the values beyond 2^53 are found in the text all the same.
    const bare = `${name}_nos`;
    const schemaless = { 'key.converter.schemas.enable': 'false', 'value.converter.schemas.enable': 'false', 'key.converter': 'org.apache.kafka.connect.json.JsonConverter', 'value.converter': 'org.apache.kafka.connect.json.JsonConverter' };
    await registerConnector(config, bare, postgresConnectorConfig(config, { name: bare, topicPrefix: bare, slot: bare, partitions: 1, settings: { 'table.include.list': 'public.kinds', ...schemaless } }), 120_000);
    await waitForTopics(kafka, [`${bare}.public.kinds`]);
    const row = (await readUntil(kafka, { topics: [`${bare}.public.kinds`], timeoutMs: 60_000, done: (r) => r.length >= 2 })).find((r) => String(r.key).includes('9007199254740993'));
    expect((decode(row as ReadRecord) as { error: string }).error).toMatch(/field 'after\.id': integer 9007199254740993 is beyond 2\^53/);
    expect((decode(row as ReadRecord, { int64: 'string' }) as DebeziumChange).after).toMatchObject({ id: '9007199254740993', big: '12345678901234567', ts6: 1796119200123456, n: 9 });
  }, 200_000);
});

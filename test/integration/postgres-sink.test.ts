/**
 * The exactly-once PostgreSQL sink against a real PostgreSQL started by the test: upserts,
 * deletes and appends in one transaction with the task's mark; a replayed checkpoint writes
 * nothing twice; an earlier owner is fenced; rows the database refuses become dead letters with
 * its reason while the rest is written; a dropped connection is retried; and, with the Kafka
 * part of the task's sinks behind (the worker died between the two commits), the next owner
 * publishes to Kafka only, rejects included.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { postgresUrl, startPostgres } from '../../deploy/local/postgres.ts';
import { postgresSink } from '../../job/api.ts';
import type { PublishedMark } from '../../job/contract/sink.ts';
import { PostgresFencedError, PostgresTaskSink } from '../../worker/postgres-sink.ts';
import { TaskSinks } from '../../worker/task-sinks.ts';
import type { TaskTransactions } from '../../worker/task-transactions.ts';
import type { BufferedOutput, OutputRecord } from '../../worker/thread-protocol.ts';
import { cdcChainConfig, stopCdcChain } from './cdc-chain.ts';

const logger = createLogger('test-postgres-sink');
const run = promisify(execFile);
const sinks = [
  { name: 'totals', sink: postgresSink('sinktest.totals', { key: ['region', 'day'] }) },
  { name: 'alerts', sink: postgresSink('sinktest.alerts') },
];
const row = (sink: string, key: string | null, value: unknown): OutputRecord => ({ sink, key, value: value === null ? null : JSON.stringify(value) });

describe('the PostgreSQL sink (real PostgreSQL)', () => {
  let config: EddyConfig;
  let url: string;
  let db: pg.Client;
  const open: PostgresTaskSink[] = [];
  const sinkFor = (task: number, job = 'sinkjob'): PostgresTaskSink => {
    const sink = new PostgresTaskSink({ connection: url, job, task, sinks, storeId: () => Promise.resolve('store-1'), logger, backoffMs: 20 });
    open.push(sink);
    return sink;
  };
  const query = async (sql: string) => (await db.query<Record<string, unknown>>(sql)).rows;

  beforeAll(async () => {
    config = await cdcChainConfig();
    await startPostgres(config, logger);
    url = postgresUrl(config);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE SCHEMA sinktest;
      CREATE TABLE sinktest.totals (region text NOT NULL, day date NOT NULL, amount numeric(12,2) NOT NULL CHECK (amount >= 0), orders integer, PRIMARY KEY (region, day));
      CREATE TABLE sinktest.alerts (product_id integer NOT NULL, level text, at timestamp DEFAULT now());`);
  }, 120_000);
  afterAll(async () => {
    await Promise.all(open.map((s) => s.close()));
    await db?.end();
    if (config !== undefined) await stopCdcChain(config, 'none');
  });

  it('upserts, deletes and appends a checkpoint in one transaction with its mark, and skips a checkpoint it has', async () => {
    const sink = sinkFor(0);
    await sink.fence();
    expect(await sink.lastPublished()).toBeUndefined();
    const k = (region: string, day: string) => JSON.stringify([region, day]);
    expect(await sink.publish(1, [
      row('totals', k('eu', '2026-12-01'), { region: 'eu', day: '2026-12-01', amount: 10.5, orders: 1 }),
      row('totals', k('us', '2026-12-01'), { region: 'us', day: '2026-12-01', amount: 3, orders: 1 }),
      row('totals', k('eu', '2026-12-01'), { region: 'eu', day: '2026-12-01', amount: 21, orders: 2 }), // last per key wins
      row('alerts', null, { product_id: 7, level: 'low' }),
      row('alerts', null, { product_id: 7, level: 'critical' }),
    ], 0)).toEqual([]);
    expect(await sink.lastPublished()).toEqual({ checkpointId: 1, store: 'store-1' });
    await sink.publish(2, [row('totals', k('us', '2026-12-01'), null), row('totals', k('eu', '2026-12-01'), { region: 'eu', day: '2026-12-01', amount: 22.25 })], 0);
    // Checkpoint 2 again (a replay after a crash): nothing written twice.
    await sink.publish(2, [row('alerts', null, { product_id: 9, level: 'low' }), row('totals', k('eu', '2026-12-01'), { region: 'eu', day: '2026-12-01', amount: 999 })], 0);
    expect(await query("SELECT region, day::text, amount::text, orders FROM sinktest.totals ORDER BY region")).toEqual([{ region: 'eu', day: '2026-12-01', amount: '22.25', orders: 2 }]);
    expect(await query('SELECT product_id, level FROM sinktest.alerts ORDER BY level')).toEqual([{ product_id: 7, level: 'critical' }, { product_id: 7, level: 'low' }]);
    expect(await query("SELECT checkpoint_id::int, store FROM eddy_sink.epochs WHERE job = 'sinkjob' AND task = 0")).toEqual([{ checkpoint_id: 2, store: 'store-1' }]);
  });

  it('fences the earlier owner of a task: its publish fails and writes nothing', async () => {
    const zombie = sinkFor(1);
    await zombie.fence();
    await zombie.publish(1, [row('alerts', null, { product_id: 1, level: 'a' })], 0);
    const owner = sinkFor(1);
    await owner.fence();
    await expect(zombie.publish(2, [row('alerts', null, { product_id: 1, level: 'zombie' })], 0)).rejects.toBeInstanceOf(PostgresFencedError);
    await owner.publish(2, [row('alerts', null, { product_id: 1, level: 'owner' })], 0);
    expect(await query("SELECT level FROM sinktest.alerts WHERE product_id = 1 ORDER BY level")).toEqual([{ level: 'a' }, { level: 'owner' }]);
  });

  it('sends rows the database refuses to the dead letters with its reason, writes the rest, and keeps the rejects until Kafka has them', async () => {
    const sink = sinkFor(2);
    await sink.fence();
    const k = (region: string) => JSON.stringify([region, '2026-12-02']);
    const rejects = await sink.publish(1, [
      row('totals', k('ok'), { region: 'ok', day: '2026-12-02', amount: 1 }),
      row('totals', k('neg'), { region: 'neg', day: '2026-12-02', amount: -1 }), // CHECK
      row('totals', k('txt'), { region: 'txt', day: '2026-12-02', amount: 'lots' }), // bad type
      row('totals', k('col'), { region: 'col', day: '2026-12-02', amount: 1, colour: 'red' }), // no such column
      row('totals', 'not-an-array', null), // a key that names no row
      row('alerts', null, { product_id: null, level: 'x' }), // NOT NULL
      row('alerts', null, [1, 2]),
      row('alerts', null, { product_id: 2, level: 'fine' }),
    ], 0);
    expect(await query("SELECT region FROM sinktest.totals WHERE day = '2026-12-02'")).toEqual([{ region: 'ok' }]);
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 2')).toEqual([{ level: 'fine' }]);
    const reasons = rejects.map((r) => [Buffer.from(r.source.value ?? []).toString(), r.field, r.reason]);
    expect(reasons).toHaveLength(6);
    expect(reasons).toEqual(expect.arrayContaining([
      [expect.stringContaining('"neg"'), '', expect.stringMatching(/sinktest\.totals: .*violates check constraint.*SQLSTATE 23514/)],
      [expect.stringContaining('"txt"'), '', expect.stringMatching(/invalid input syntax for type numeric.*SQLSTATE 22P02/)],
      [expect.stringContaining('"col"'), 'colour', expect.stringContaining('sinktest.totals has no column colour')],
      ['', 'key', expect.stringContaining('must be a JSON array of 2 values')],
      [expect.stringContaining('"x"'), 'product_id', expect.stringMatching(/null value in column "product_id".*SQLSTATE 23502/)],
      ['[1,2]', '', expect.stringContaining('a row must be a JSON object')],
    ]));
    expect(rejects.every((r) => r.source.topic.startsWith('postgres:sinktest.') && r.source.offset === '1' && r.source.partition === 2)).toBe(true);
    expect((await sink.rejectsBetween(0, 1)).map((r) => r.reason)).toEqual(rejects.map((r) => r.reason));
    await sink.publish(2, [], 1); // Kafka published checkpoint 1's dead letters: they go
    expect(await sink.rejectsBetween(0, 2)).toEqual([]);
  });

  it('retries a publish whose connection was cut', async () => {
    const sink = sinkFor(3);
    await sink.fence();
    await db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'eddy sinkjob task 3'");
    await sink.publish(1, [row('alerts', null, { product_id: 3, level: 'after-cut' })], 0);
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 3')).toEqual([{ level: 'after-cut' }]);
  });

  it('brings a Kafka side that fell behind up to the database: outputs and rejects once, the rows not again', async () => {
    const kafka = new FakeKafkaPart();
    const first = new TaskSinks(kafka.asTransactions(), [sinkFor(4, 'composite')]);
    await first.fence();
    await first.lastPublished();
    const outputs: BufferedOutput[] = [
      { epoch: 1, output: row('alerts', null, { product_id: 40, level: 'one' }) },
      { epoch: 1, output: row('alerts', null, { product_id: null, level: 'refused' }) },
      { epoch: 1, output: { sink: 'kafka-out', key: 'k', value: 'v1' } },
    ];
    kafka.failNext = true; // the worker "dies" after the database committed checkpoint 1
    await expect(first.publish(1, outputs)).rejects.toThrow('Kafka is away');
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 40')).toEqual([{ level: 'one' }]);

    const next = new TaskSinks(kafka.asTransactions(), [sinkFor(4, 'composite')]);
    await next.fence();
    expect(await next.lastPublished()).toEqual({ checkpointId: 1, store: 'store-1', oldest: 0 });
    await next.publish(1, outputs); // what restore does with the restored buffer
    expect(kafka.published).toHaveLength(1);
    const [published] = kafka.published;
    expect(published?.checkpointId).toBe(1);
    expect(published?.outputs.flatMap((o) => ('output' in o ? [o.output.value] : []))).toEqual(['v1']);
    expect(published?.outputs.flatMap((o) => ('deadLetter' in o ? [o.deadLetter.reason] : []))).toEqual([expect.stringMatching(/null value in column "product_id"/)]);
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 40')).toEqual([{ level: 'one' }]);
    expect(await next.lastPublished()).toEqual({ checkpointId: 1, store: 'store-1', oldest: 1 });

    // The database two checkpoints ahead of Kafka's publish: restore publishes a newer checkpoint
    // (2) than the one the database alone has (1), and Kafka still gets checkpoint 1's dead letter.
    const kafka5 = new FakeKafkaPart();
    const third = new TaskSinks(kafka5.asTransactions(), [sinkFor(5, 'composite')]);
    await third.fence();
    await third.lastPublished();
    const early: BufferedOutput[] = [{ epoch: 1, output: row('alerts', null, { product_id: null, level: 'refused-1' }) }];
    kafka5.failNext = true;
    await expect(third.publish(1, early)).rejects.toThrow('Kafka is away');
    const fourth = new TaskSinks(kafka5.asTransactions(), [sinkFor(5, 'composite')]);
    await fourth.fence();
    expect(await fourth.lastPublished()).toEqual({ checkpointId: 1, store: 'store-1', oldest: 0 });
    await fourth.publish(2, [...early, { epoch: 2, output: row('alerts', null, { product_id: null, level: 'refused-2' }) }, { epoch: 2, output: row('alerts', null, { product_id: 52, level: 'two' }) }]);
    expect(kafka5.published.map((p) => p.checkpointId)).toEqual([2]);
    const letters = kafka5.published[0]?.outputs.flatMap((o) => ('deadLetter' in o ? [Buffer.from(o.deadLetter.source.value ?? []).toString()] : []));
    expect(letters).toEqual([expect.stringContaining('refused-1'), expect.stringContaining('refused-2')]);
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 52')).toEqual([{ level: 'two' }]);
  });

  it('forgets a job\'s marks on eddy reset, so its next run can start over', async () => {
    const sink = sinkFor(7, 'resetjob');
    await sink.fence();
    await sink.publish(3, [row('alerts', null, { product_id: 70, level: 'kept' })], 0);
    const marks = async () => (await query("SELECT count(*)::int AS n FROM eddy_sink.epochs WHERE job = 'resetjob'"))[0]?.n;
    expect(await marks()).toBe(1);
    const env = { ...process.env, EDDY_POSTGRES_URL: url, EDDY_PG_SINK_JOB: JSON.stringify({ name: 'resetjob', topic: 'resetjob-in', table: 'sinktest.none', partitions: 1 }), EDDY_CHECKPOINT_DIR: mkdtempSync(join(tmpdir(), 'eddy-reset-pg-')), EDDY_KAFKA_BROKERS: inject('brokers').join(',') };
    const done = await run('npx', ['tsx', 'bin/eddy.ts', 'reset', '--job', 'test/integration/jobs/pg-sink-job.ts', '--yes'], { env });
    expect(done.stdout).toContain('and its marks in eddy_sink.epochs of');
    expect(await marks()).toBe(0);
    expect(await query('SELECT level FROM sinktest.alerts WHERE product_id = 70')).toEqual([{ level: 'kept' }]); // the rows it wrote stay
  }, 60_000);

  it('writes one statement per set of named columns, so a row never nulls a column it did not name, and knows a row by its key columns', async () => {
    const sink = sinkFor(6);
    await sink.fence();
    const day = '2026-12-03';
    await sink.publish(1, [row('totals', JSON.stringify(['x', day]), { region: 'x', day, amount: 5, orders: 3 })], 0);
    await sink.publish(2, [
      row('totals', JSON.stringify(['x', day]), { region: 'x', day, amount: 6 }), // orders not named: kept
      row('totals', JSON.stringify(['y', day]), { region: 'y', day, amount: 1, orders: 1 }),
      row('totals', '["y", "2026-12-03"]', { region: 'y', day, amount: 2, orders: 2 }), // the same row under other key text: the last wins
    ], 0);
    expect(await query(`SELECT region, amount::text, orders FROM sinktest.totals WHERE day = '${day}' ORDER BY region`)).toEqual([
      { region: 'x', amount: '6.00', orders: 3 },
      { region: 'y', amount: '2.00', orders: 2 },
    ]);
  });
});

/** The Kafka part of a task's sinks, in memory: what it published and its mark. */
class FakeKafkaPart {
  published: { checkpointId: number; outputs: readonly BufferedOutput[] }[] = [];
  failNext = false;

  asTransactions(): TaskTransactions {
    const part = {
      fence: () => Promise.resolve(),
      lastPublished: (): Promise<PublishedMark | undefined> => {
        const last = this.published.at(-1);
        return Promise.resolve(last === undefined ? undefined : { checkpointId: last.checkpointId, store: 'store-1' });
      },
      publish: (checkpointId: number, outputs: readonly BufferedOutput[]): Promise<void> => {
        if (this.failNext) {
          this.failNext = false;
          return Promise.reject(new Error('Kafka is away'));
        }
        this.published.push({ checkpointId, outputs });
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
      taskCount: () => Promise.resolve(8),
    };
    return part as unknown as TaskTransactions;
  }
}

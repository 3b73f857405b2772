/**
 * Truncate on a real cluster: Debezium change events of a products table, with truncates (no
 * key, so Kafka's partitioner puts each on some partition) between them, produced while workers
 * are SIGKILLed. The job's table and its per-category counts must equal the table the events
 * make in LSN order, where a truncate empties it: rows changed before a truncate are retracted on
 * every task, and nothing older than a truncate comes back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { SeededRandom } from '../../loadtest/cdc/random.ts';
import type { Product } from './jobs/catalog-job.ts';
import { byKey, readTableUntil, runExample, type ExampleRecord } from './example-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

describe('truncate on a cluster, with workers killed during the run', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy-trunc').replace(/-/g, '_');
  const topic = `${prefix}.public.products`;
  const random = new SeededRandom(2028);
  const table = new Map<number, Product>();
  const records: ExampleRecord[] = [];
  let truncates = 0;
  const t0 = Date.UTC(2025, 0, 1);
  for (let lsn = 1; lsn <= 6_000; lsn++) {
    const ts = t0 + lsn * 1_000;
    const source = { connector: 'postgresql', name: prefix, ts_ms: ts, db: 'shop', table: 'products', lsn };
    if (lsn % 1_100 === 0) {
      table.clear();
      truncates += 1;
      records.push({ topic, key: null, value: JSON.stringify({ op: 't', before: null, after: null, source, ts_ms: ts }), timestampMs: ts });
      continue;
    }
    const id = random.int(1, 400);
    const before = table.get(id) ?? null;
    const after = random.int(0, 9) === 0 ? null : { product_id: id, category: random.pick(['books', 'games', 'tools', 'toys', 'garden']), price: random.int(100, 9_999) / 100 };
    if (before === null && after === null) continue;
    if (after === null) table.delete(id);
    else table.set(id, after);
    const op = after === null ? 'd' : before === null ? 'c' : 'u';
    records.push({ topic, key: JSON.stringify({ product_id: id }), value: JSON.stringify({ op, before, after, source, ts_ms: ts }), timestampMs: ts });
  }
  const rows = new Map([...table].map(([id, p]) => [String(id), p]));
  const perCategory = new Map<string, { products: number }>();
  for (const p of table.values()) perCategory.set(p.category, { products: (perCategory.get(p.category)?.products ?? 0) + 1 });
  let cluster: LocalCluster | undefined;
  afterAll(() => cluster?.stop());

  it('retracts every row changed before each truncate, on every task, and nothing older comes back', async () => {
    const env = { EDDY_CATALOG: JSON.stringify({ prefix, partitions: 4 }) };
    const run = await runExample(kafka, { job: 'test/integration/jobs/catalog-job.ts', env, topics: [topic], partitions: 4, records, rate: 1_000, kills: 2 });
    cluster = run.cluster;
    expect(truncates).toBe(5);
    expect(rows.size).toBeGreaterThan(100);
    expect(await readTableUntil<Product>(kafka, `${prefix}.products`, rows)).toEqual(byKey(rows));
    expect(await readTableUntil(kafka, `${prefix}.per_category`, perCategory, 60_000)).toEqual(byKey(perCategory));
    expect(run.cluster.unexpectedExits()).toEqual([]);
    console.log(`truncate on the cluster: ${records.length} records, ${truncates} truncates, ${run.killed} worker kills, ${rows.size} rows left: equal to the table in LSN order`);
  }, 600_000);
});

import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { runCdcGenerator } from '../../loadtest/cdc/producer.ts';
import { TABLE_NAMES } from '../../loadtest/cdc/model.ts';
import { decodeDebezium, decodeDebeziumKey } from '../../job/formats/debezium.ts';
import { readRecords, testKafka, uniqueName } from './support.ts';

describe('CDC generator against real Kafka', () => {
  for (const schemas of [true, false]) {
    it(`writes valid Debezium change events (schemas ${schemas ? 'on' : 'off'}), a tombstone after each delete`, async () => {
      const topicPrefix = uniqueName('cdc').replace(/-/g, '_');
      const stats = await runCdcGenerator({
        brokers: inject('brokers'), rate: 5_000, maxEvents: 3_000, seed: 7, schemas, partitions: 3, topicPrefix,
        logger: createLogger('test', 'silent'),
      });
      expect(stats.events).toBe(3_000);

      const topics = TABLE_NAMES.map((t) => `${topicPrefix}.public.${t}`);
      const records = await readRecords(testKafka(), { topics, count: stats.events, timeoutMs: 30_000, settleMs: 500 });
      expect(records).toHaveLength(stats.events);

      const ops: Record<string, number> = {};
      for (const r of records) {
        const where = `${r.topic}[${r.partition}]@${r.offset}`;
        expect(decodeDebeziumKey(r.key, where)).not.toBeNull();
        const change = decodeDebezium(r.value, where);
        const op = change?.op ?? 'tombstone';
        ops[op] = (ops[op] ?? 0) + 1;
        if (change !== null) {
          expect(change.source.name).toBe(topicPrefix);
          expect(`${topicPrefix}.public.${change.source.table}`).toBe(r.topic);
        }
      }
      expect(ops).toEqual(stats.byOp);
      expect(ops.r).toBeGreaterThan(0);
      expect(ops.d).toBe(ops.tombstone);

      // Within a partition a delete is followed by the tombstone of the same key.
      const byPartition = new Map<string, typeof records>();
      for (const r of records) byPartition.set(`${r.topic}/${r.partition}`, [...(byPartition.get(`${r.topic}/${r.partition}`) ?? []), r]);
      for (const list of byPartition.values()) {
        list.sort((a, b) => Number(a.offset) - Number(b.offset));
        list.forEach((r, i) => {
          if (r.value !== null && decodeDebezium(r.value, 'x')?.op === 'd') {
            const next = list[i + 1];
            expect(next?.value).toBeNull();
            expect(next?.key?.toString()).toBe(r.key?.toString());
          }
        });
      }
    });
  }
});

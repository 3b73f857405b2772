// A worker launched together with the coordinator waits for the job's topics (real Kafka): it
// must not subscribe to, or produce to, a topic the coordinator has not created yet.
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { defineJob, json, kafkaSink, kafkaSource, keyedActor } from '../../job/api.ts';
import { jobTopics, prepareJobTopics, waitForJobTopics } from '../../job/topics.ts';
import { connectedAdmin, testKafka, uniqueName } from './support.ts';

describe('waiting for a job\'s topics (job/topics.ts)', () => {
  const kafka = testKafka();
  const admin = connectedAdmin(kafka);
  const created: string[] = [];
  afterAll(async () => {
    await admin().deleteTopics({ topics: created }).catch(() => undefined);
  });

  it('resolves with the task count only once the coordinator prepared every topic, saying what it waits for', async () => {
    const name = uniqueName('topics-wait');
    const job = defineJob({
      name,
      sources: { in: kafkaSource(`${name}.in`, { format: json(), partitions: 4 }) },
      sinks: { out: kafkaSink(`${name}.out`, { partitions: 4 }) },
      actors: { a: keyedActor({ from: 'in', key: () => 'k', initial: () => null, onRecord: () => undefined }) },
    });
    created.push(...jobTopics(job));
    const waited: string[] = [];
    const logger = createLogger('test', 'silent');
    logger.info = ((_obj: unknown, msg?: string) => waited.push(msg ?? ''));
    let resolvedAt: number | undefined;
    const waiting = waitForJobTopics(admin(), job, logger, { pollMs: 100, reportEveryMs: 0 }).then((count) => {
      resolvedAt = Date.now();
      return count;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(resolvedAt).toBeUndefined();
    expect(waited.some((m) => m.includes(`${name}.in`) && m.includes(`eddy.${name}.commits`))).toBe(true);

    const preparedAt = Date.now();
    expect(await prepareJobTopics(kafka, job, createLogger('test', 'silent'))).toBe(4);
    expect(await waiting).toBe(4);
    expect(resolvedAt).toBeGreaterThanOrEqual(preparedAt);
  }, 60_000);
});

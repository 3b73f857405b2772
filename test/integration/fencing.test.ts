import { describe, expect, it } from 'vitest';
import type { JobDefinition } from '../../job/api.ts';
import { commitsTopic } from '../../job/topics.ts';
import { TaskTransactions } from '../../worker/task-transactions.ts';
import { connectedAdmin, createTopic, readRecords, testKafka, uniqueName } from './support.ts';

/**
 * Fencing against real Kafka: `fence()` must make the broker fence every earlier owner of the
 * task's transactional id at once, not on the owner's first transaction. kafkajs initialises a
 * transactional producer lazily, so a zombie whose first transaction came after the new owner's
 * "fence" used to fence the new owner instead and publish a second time (found by the nemesis:
 * 68 outputs doubled after a worker froze before its first publication).
 */
describe('real Kafka: fencing a task\'s earlier owner', () => {
  const kafka = testKafka();
  const admin = connectedAdmin(kafka);

  it('fences the old owner at fence(), even if it never published before; its late publication fails and leaves nothing visible', async () => {
    const name = uniqueName('eddy-test-fence');
    const job = { name, sources: {}, sinks: {}, actors: {} } as unknown as JobDefinition; // TaskTransactions needs only the name
    await createTopic(kafka, commitsTopic(job), 2);
    const storeId = () => Promise.resolve('store-1');
    const zombie = new TaskTransactions(kafka, admin(), job, 1, storeId);
    const owner = new TaskTransactions(kafka, admin(), job, 1, storeId);
    try {
      await zombie.fence(); // the zombie once owned the task, then froze before publishing anything
      await owner.fence(); // the new owner takes over
      await expect(zombie.publish(2, [])).rejects.toThrow(/epoch|fenced/i);
      await owner.publish(2, []);
      const markers = await readRecords(kafka, { topics: [commitsTopic(job)], count: 1, timeoutMs: 30_000, settleMs: 1_000 });
      expect(markers.map((m) => JSON.parse(m.value?.toString() ?? '{}') as { checkpointId: number })).toEqual([expect.objectContaining({ checkpointId: 2 })]);
    } finally {
      await zombie.close().catch(() => undefined);
      await owner.close();
    }
  });
});

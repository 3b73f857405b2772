import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopicsReady } from '../../common/kafka.ts';

/** An admin whose metadata look-ups fail with `failures` first (kafkajs errors carry `retriable`). */
function fakeAdmin(failures: { message: string; retriable: boolean }[]) {
  const calls: string[] = [];
  const admin = {
    createTopics: () => {
      calls.push('create');
      return Promise.resolve(calls.filter((c) => c === 'create').length === 1);
    },
    fetchTopicMetadata: () => {
      calls.push('metadata');
      const failure = failures.shift();
      return failure === undefined ? Promise.resolve({ topics: [] }) : Promise.reject(Object.assign(new Error(failure.message), { retriable: failure.retriable }));
    },
  } as unknown as Admin;
  return { admin, calls };
}

describe('createTopicsReady', () => {
  it('retries what a just-started broker answers before its metadata has the new topic', async () => {
    const { admin, calls } = fakeAdmin([{ message: 'This server does not host this topic-partition', retriable: true }]);
    await createTopicsReady(admin, [{ topic: 't', numPartitions: 3 }]);
    expect(calls).toEqual(['create', 'metadata', 'create', 'metadata']);
  });

  it('gives up at once on an error that is not retriable', async () => {
    const { admin, calls } = fakeAdmin([{ message: 'Invalid replication factor', retriable: false }]);
    await expect(createTopicsReady(admin, [{ topic: 't', numPartitions: 3 }])).rejects.toThrow('Invalid replication factor');
    expect(calls).toEqual(['create', 'metadata']);
  });
});

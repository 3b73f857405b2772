/**
 * Starts the real Kafka and NATS for the integration suite unless they are configured
 * (EDDY_KAFKA_BROKERS / EDDY_NATS_URL) or already running, and stops what it started.
 * A server that cannot start fails the run with the reason; nothing is skipped.
 */
import type { Admin } from 'kafkajs';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../common/config.ts';
import { createKafka } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import { ensureLocalStack, type LocalStack } from '../../deploy/local/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    brokers: string[];
    natsUrl: string;
  }
}

let stack: LocalStack | undefined;
let topicsBefore: Set<string> | undefined;

export async function setup(project: TestProject): Promise<void> {
  const config = loadConfig();
  stack = await ensureLocalStack(config, createLogger('test-stack'));
  project.provide('brokers', stack.brokers);
  project.provide('natsUrl', stack.natsUrl);
  if (config.kafka.brokers === undefined) topicsBefore = new Set(await withAdmin(stack.brokers, (admin) => admin.listTopics()));
}

/**
 * Deletes the topics this run created on the local broker (never on configured brokers): every
 * test names its topics uniquely, and a broker that keeps thousands of them fills its 512 MB heap
 * with their metadata, and then pauses for a full GC every few seconds (0.7 s each, measured).
 */
export async function teardown(): Promise<void> {
  try {
    if (stack !== undefined && topicsBefore !== undefined) {
      const before = topicsBefore;
      await withAdmin(stack.brokers, async (admin) => {
        const created = (await admin.listTopics()).filter((topic) => !before.has(topic) && !topic.startsWith('__'));
        for (let i = 0; i < created.length; i += 200) await admin.deleteTopics({ topics: created.slice(i, i + 200), timeout: 30_000 });
      });
    }
  } finally {
    await stack?.stopStarted();
  }
}

async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = createKafka(brokers, 'eddy-test-topics', createLogger('test-stack', 'error')).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts the real Kafka and NATS for the integration suite unless they are configured
 * (EDDY_KAFKA_BROKERS / EDDY_NATS_URL) or already running, and stops what it started.
 * A server that cannot start fails the run with the reason; nothing is skipped.
 */
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { ensureLocalStack, type LocalStack } from '../../deploy/local/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    brokers: string[];
    natsUrl: string;
  }
}

let stack: LocalStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  stack = await ensureLocalStack(loadConfig(), createLogger('test-stack'));
  project.provide('brokers', stack.brokers);
  project.provide('natsUrl', stack.natsUrl);
}

export async function teardown(): Promise<void> {
  await stack?.stopStarted();
}

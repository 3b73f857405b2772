import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { createTopic, testKafka, uniqueName } from './support.ts';

const run = promisify(execFile);

describe('eddy reset (real Kafka)', () => {
  it('deletes the job\'s checkpoint store and commit markers, only with --yes', async () => {
    const prefix = uniqueName('eddy-test-reset');
    const job = `eos-check.${prefix}`;
    const commits = `eddy.${job}.commits`;
    const kafka = testKafka();
    await createTopic(kafka, commits, 2);
    const checkpoints = mkdtempSync(join(tmpdir(), 'eddy-reset-'));
    const store = join(checkpoints, job);
    mkdirSync(store);
    writeFileSync(join(store, 'store.json'), '{}');
    const env = { ...process.env, EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_DIR: checkpoints, EDDY_KAFKA_BROKERS: inject('brokers').join(',') };
    const cli = (...args: string[]) => run('npx', ['tsx', 'bin/eddy.ts', 'reset', '--job', 'eos-check', ...args], { env });

    const dry = await cli();
    expect(dry.stdout).toContain(`would delete the checkpoint store ${store}`);
    expect(existsSync(store)).toBe(true);

    const done = await cli('--yes');
    expect(done.stdout).toContain(`job ${job} reset`);
    expect(existsSync(store)).toBe(false);
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(commits);
    } finally {
      await admin.disconnect();
    }
  }, 60_000);
});

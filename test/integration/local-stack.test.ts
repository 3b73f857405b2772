import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { ensureLocalStack } from '../../deploy/local/stack.ts';

const logger = createLogger('test', 'silent');

describe('local stack against the running servers', () => {
  it('reuses the servers that are already running instead of starting new ones', async () => {
    const stack = await ensureLocalStack(loadConfig(), logger);
    // The suite's global setup started or found them; a second start must only reuse.
    expect(stack.outcome).toEqual({ kafka: 'reused', nats: 'reused' });
    expect(stack.brokers).toEqual(inject('brokers'));
    await stack.stopStarted(); // stops nothing: this call started nothing
    const again = await ensureLocalStack(loadConfig(), logger);
    expect(again.outcome).toEqual({ kafka: 'reused', nats: 'reused' });
  });

  it('uses configured servers as they are and starts nothing', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'eddy-state-'));
    const config = loadConfig({
      env: { EDDY_KAFKA_BROKERS: inject('brokers').join(','), EDDY_NATS_URL: inject('natsUrl'), EDDY_STATE_DIR: stateDir },
      cwd: stateDir,
    });
    const stack = await ensureLocalStack(config, logger);
    expect(stack.outcome).toEqual({ kafka: 'external', nats: 'external' });
    expect(readdirSync(stateDir)).toEqual([]);
  });
});

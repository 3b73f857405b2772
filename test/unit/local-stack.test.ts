import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { MissingPrerequisiteError } from '../../common/errors.ts';
import { createLogger } from '../../common/logger.ts';
import { newClusterId } from '../../deploy/local/kafka.ts';
import { livePid, requireCommand } from '../../deploy/local/processes.ts';
import { ensureLocalStack } from '../../deploy/local/stack.ts';

describe('local stack helpers', () => {
  it('makes KRaft cluster ids the storage tool cannot mistake for an option', () => {
    // One id in 64 used to start with '-', and `kafka-storage format -t -xyz…` failed (seen once in a nemesis run).
    const ids = Array.from({ length: 5_000 }, () => newClusterId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('says in one sentence what to install when a tool is missing', () => {
    expect(() => requireCommand('eddy-no-such-tool', 'install it with apt-get.')).toThrow(MissingPrerequisiteError);
    expect(() => requireCommand('eddy-no-such-tool', 'install it with apt-get.')).toThrow(
      "'eddy-no-such-tool' was not found on PATH: install it with apt-get.",
    );
  });

  it('treats a pid file of a dead process as stale and removes it', () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'eddy-pid-')), 'x.pid');
    writeFileSync(pidFile, '2147483646\n');
    expect(livePid(pidFile)).toBeUndefined();
    expect(existsSync(pidFile)).toBe(false);
  });

  it('knows a live pid', () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'eddy-pid-')), 'self.pid');
    writeFileSync(pidFile, `${process.pid}\n`);
    expect(livePid(pidFile)).toBe(process.pid);
  });

  it('starts nothing when servers are configured, and fails clearly if they do not answer', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'eddy-state-'));
    const config = loadConfig({
      env: { EDDY_KAFKA_BROKERS: '127.0.0.1:1', EDDY_NATS_URL: 'nats://127.0.0.1:1', EDDY_STATE_DIR: stateDir },
      cwd: stateDir,
    });
    await expect(ensureLocalStack(config, createLogger('test', 'silent'))).rejects.toThrow(/NATS at nats:\/\/127.0.0.1:1 .*does not answer/);
    expect(readdirSync(stateDir)).toEqual([]);
  });
});

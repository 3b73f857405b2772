import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { runNemesis } from '../../loadtest/chaos/nemesis/run-nemesis.ts';
import { faultKinds } from '../../loadtest/chaos/nemesis/schedule.ts';

/**
 * A short seeded nemesis run (`npm run chaos -- --nemesis all` is the long one): every fault
 * kind once, alone, against a cluster of 3 workers on a broker of the run's own; then the
 * independent read_committed reader. Needs root (the checkpoint store's tmpfs) and Debian's
 * faketime; without them the run fails saying so.
 */
describe('nemesis (short run of npm run chaos -- --nemesis all)', () => {
  it('loses, doubles and miscounts nothing under every fault kind, and converges after each', async () => {
    const result = await runNemesis({
      config: loadConfig(), natsUrl: inject('natsUrl'), kinds: faultKinds, rounds: faultKinds.length,
      records: 30_000, keys: 300, rate: 600, workers: 3, seed: 20261130, checkpointIntervalMs: 500, gapSec: 1,
      logger: createLogger('nemesis-test', 'warn'),
    });
    const { faults, ...summary } = result;
    console.log(`nemesis: ${JSON.stringify(summary)}`);
    expect(new Set(faults.map((f) => f.fault.kind))).toEqual(new Set(faultKinds));
    expect(result.produced).toBeGreaterThanOrEqual(30_000);
    expect({ lost: result.lost, duplicated: result.duplicated, wrongCounts: result.wrongCounts, converged: result.converged }).toEqual({
      lost: 0, duplicated: 0, wrongCounts: 0, converged: true,
    });
  }, 600_000);
});

import { describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { runChaos } from '../../loadtest/chaos/run-chaos.ts';
import { testKafka } from './support.ts';

describe('chaos (short run of npm run chaos)', () => {
  it('loses and doubles nothing while workers and the coordinator are SIGKILLed', async () => {
    const result = await runChaos({
      kafka: testKafka(), brokers: inject('brokers'), natsUrl: inject('natsUrl'),
      records: 24_000, keys: 300, rate: 2_000, workers: 3, killEverySec: 3, workerKills: 3, coordinatorKills: 1,
      seed: 42, checkpointIntervalMs: 500, logger: createLogger('chaos-test', 'warn'),
    });
    console.log(`chaos: ${JSON.stringify(result)}`);
    expect(result.workerKills).toBeGreaterThanOrEqual(3);
    expect(result.coordinatorKills).toBe(1);
    expect(result.produced).toBe(24_000);
    expect({ lost: result.lost, duplicated: result.duplicated, wrongCounts: result.wrongCounts }).toEqual({ lost: 0, duplicated: 0, wrongCounts: 0 });
  }, 300_000);
});

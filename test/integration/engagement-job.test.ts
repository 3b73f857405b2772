/**
 * The `engagement` job (seed 001) on a real cluster with workers SIGKILLed during the run:
 * every output equals test/support/engagement-oracle.ts over the same change events, and every
 * invalid event is in the dead-letter topic with its bytes and all its reasons.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { engagementEvents } from '../../examples/engagement/data.ts';
import { DEFAULTS, type DeviceStats, type Enriched, type WindowStats } from '../../examples/engagement/job.ts';
import { expectedEngagement } from '../support/engagement-oracle.ts';
import { byKey, readTableUntil, runExample } from './example-cluster.ts';
import { readUntil, testKafka, uniqueName } from './support.ts';

describe('engagement job on a cluster, with workers killed during the run', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy-engage').replace(/-/g, '_');
  const options = { ...DEFAULTS, topicPrefix: prefix, partitions: 4 };
  const events = engagementEvents({ seed: 2027, count: 9_000, prefix });
  const expected = expectedEngagement(events, options.windowMs);
  let cluster: LocalCluster | undefined;
  afterAll(() => cluster?.stop());

  it('equals the independent computation of every output', async () => {
    const run = await runExample(kafka, { job: 'engagement', env: { EDDY_ENGAGEMENT: JSON.stringify(options) }, topics: ['content', 'engagement_events'].map((t) => `${prefix}.public.${t}`), partitions: options.partitions, records: events, rate: 1_000, kills: 2 });
    cluster = run.cluster;
    const windows = await readTableUntil<WindowStats>(kafka, `${prefix}.engagement_10m`, expected.windows);
    const devices = await readTableUntil<DeviceStats>(kafka, `${prefix}.by_device`, expected.devices, 60_000);
    const enriched = await readTableUntil<Enriched>(kafka, `${prefix}.enriched`, expected.enriched, 60_000);
    const wrong = [...expected.enriched].filter(([id, e]) => JSON.stringify(enriched.get(id)) !== JSON.stringify(e));
    expect(wrong.slice(0, 5).map(([id, e]) => ({ id, expected: e, got: enriched.get(id) }))).toEqual([]);
    expect(enriched).toEqual(byKey(expected.enriched));
    expect(devices).toEqual(byKey(expected.devices));
    expect(windows).toEqual(byKey(expected.windows));
    const dead = await readUntil(kafka, { topics: [`eddy.${prefix}.dlq`], timeoutMs: 30_000, settleMs: 2_000, done: (r) => r.length >= expected.invalid });
    expect(dead).toHaveLength(expected.invalid);
    const invalid = new Set(events.filter((e) => !e.valid).map((e) => e.value.toString()));
    expect(dead.every((r) => invalid.has(String(r.value)) && String(r.headers?.['eddy.dlq.field']).startsWith('after.'))).toBe(true);
    expect(run.cluster.unexpectedExits()).toEqual([]);
    console.log(`engagement on the cluster: ${events.length} events, ${run.killed} worker kills, ${expected.windows.size} windows, ${expected.enriched.size} enriched events, ${dead.length} dead letters: all equal to the independent computation`);
  }, 600_000);
});

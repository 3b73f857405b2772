/**
 * The `clickstream` job (seed 002) on a real cluster with workers SIGKILLed during the run: the
 * clean events (each once), the users dimension and the conversion of every closed window equal
 * test/support/clickstream-oracle.ts over the same records.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { clickRecords } from '../../examples/clickstream/data.ts';
import { DEFAULTS, type Conversion, type UserVersion } from '../../examples/clickstream/job.ts';
import { expectedClickstream } from '../support/clickstream-oracle.ts';
import { byKey, readTableUntil, runExample } from './example-cluster.ts';
import { readUntil, testKafka, uniqueName } from './support.ts';

describe('clickstream job on a cluster, with workers killed during the run', () => {
  const kafka = testKafka();
  const prefix = uniqueName('eddy-click').replace(/-/g, '_');
  const options = { ...DEFAULTS, topicPrefix: prefix, partitions: 4 };
  const records = clickRecords({ seed: 2028, count: 9_000, prefix });
  const expected = expectedClickstream(records, options.windowMs);
  let cluster: LocalCluster | undefined;
  afterAll(() => cluster?.stop());

  it('equals the independent computation of every output', async () => {
    const run = await runExample(kafka, { job: 'clickstream', env: { EDDY_CLICKSTREAM: JSON.stringify(options) }, topics: [`${prefix}.events`, `${prefix}.public.users`], partitions: options.partitions, records, rate: 1_000, kills: 2 });
    cluster = run.cluster;
    const clean = await readUntil(kafka, { topics: [`${prefix}.events_clean`], timeoutMs: 120_000, settleMs: 3_000, partialOnTimeout: true, done: (r) => r.length >= expected.clean.size });
    expect(clean.length).toBe(expected.clean.size); // each event once: no duplicate passed, none lost
    expect(new Map(clean.map((r) => [String(r.key), JSON.parse(String(r.value)) as unknown]))).toEqual(expected.clean);
    expect(await readTableUntil<UserVersion>(kafka, `${prefix}.users_dim`, expected.dim, 60_000)).toEqual(byKey(expected.dim));
    // Windows closed well before the newest event must be there, each once and right.
    const closed = new Map([...expected.conversion].filter(([, c]) => Date.parse(c.window_end) + options.allowedLatenessMs + options.outOfOrdernessMs + 120_000 <= expected.maxTs));
    const conversion = await readUntil(kafka, { topics: [`${prefix}.conversion_5m`], timeoutMs: 60_000, settleMs: 2_000, partialOnTimeout: true, done: (r) => [...closed.keys()].every((k) => r.some((x) => String(x.key) === k)) });
    expect(new Set(conversion.map((r) => String(r.key))).size).toBe(conversion.length);
    const windows = new Map(conversion.map((r) => [String(r.key), JSON.parse(String(r.value)) as Conversion]));
    expect(closed.size).toBeGreaterThan(10);
    for (const [key, window] of closed) expect(windows.get(key)).toEqual(window);
    for (const [key, window] of windows) expect(window).toEqual(expected.conversion.get(key));
    const dead = await readUntil(kafka, { topics: [`eddy.${prefix}.dlq`], timeoutMs: 30_000, settleMs: 2_000, done: (r) => r.length >= expected.invalid });
    expect(dead).toHaveLength(expected.invalid);
    expect(run.cluster.unexpectedExits()).toEqual([]);
    console.log(`clickstream on the cluster: ${records.length} records, ${run.killed} worker kills, ${clean.length} clean events (${expected.duplicates} duplicates dropped), ${expected.dim.size} user versions, ${windows.size} windows, ${dead.length} dead letters: all equal to the independent computation`);
  }, 600_000);
});

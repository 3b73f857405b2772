// The dashboard's figures (coordinator/dashboard/): rates from counter differences, percentiles
// from histogram differences merged over workers, dead letters that outlive a killed worker.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import type { ClusterView } from '../../coordinator/cluster-controller.ts';
import { DashboardFeed } from '../../coordinator/dashboard/dashboard-feed.ts';
import { histogramDelta, quantile } from '../../coordinator/dashboard/histogram.ts';
import type { HistogramSnapshot, WorkerStats } from '../../worker/http-server.ts';

const le = ['0.01', '0.1', '1', '+Inf'];
const histogram = (counts: number[]): HistogramSnapshot => ({ le, counts, count: counts.at(-1) ?? 0, sum: 0 });

describe('dashboard histograms', () => {
  it('interpolates a quantile inside its bucket, as histogram_quantile does', () => {
    const counts = new Map([['0.01', 50], ['0.1', 90], ['1', 100], ['+Inf', 100]]);
    expect(quantile(counts, 0.5)).toBeCloseTo(0.01);
    expect(quantile(counts, 0.7)).toBeCloseTo(0.01 + 0.09 * 0.5);
    expect(quantile(counts, 0.95)).toBeCloseTo(0.1 + 0.9 * 0.5);
    expect(quantile(new Map([['0.1', 0], ['+Inf', 0]]), 0.5)).toBeUndefined();
    expect(quantile(new Map([['0.1', 1], ['+Inf', 10]]), 0.99)).toBe(0.1); // in +Inf: the highest finite bound
  });

  it('takes the difference between snapshots, and all of a restarted worker\'s counts', () => {
    expect([...histogramDelta(histogram([5, 8, 9, 9]), histogram([1, 2, 3, 3])).values()]).toEqual([4, 6, 6, 6]);
    expect([...histogramDelta(histogram([1, 1, 1, 1]), histogram([5, 8, 9, 9])).values()]).toEqual([1, 1, 1, 1]);
  });
});

describe('dashboard feed', () => {
  it('gives per-task rates, merged percentiles, and dead letters that stay counted after their worker is gone', async () => {
    let now = 0;
    let view: ClusterView = {
      generation: 1,
      workers: [
        { id: 'w1', pid: 1, endpoint: 'w1:1', alive: true, tasks: [0], recordsIn: 0, recordsOut: 0 },
        { id: 'w2', pid: 2, endpoint: 'w2:1', alive: true, tasks: [1], recordsIn: 0, recordsOut: 0 },
      ],
      tasks: [{ task: 0, worker: 'w1', state: 'running' }, { task: 1, worker: 'w2', state: 'running' }],
    };
    const stats = new Map<string, WorkerStats>();
    const set = (worker: string, task: number, recordsIn: number, deadLetters: number, latency: number[]) =>
      stats.set(worker, { tasks: [{ task, state: 'running', queueDepth: 0, recordsIn, recordsOut: recordsIn, lag: 7, deadLetters }], recordLatency: histogram(latency) });
    const feed = new DashboardFeed({
      job: 'j', view: () => view, checkpoints: () => ({ latestCompleted: 0, recent: [] }), tail: () => ({}), sinks: [], deadLetterTopic: 'dlq',
      fetchStats: (endpoint) => {
        const s = stats.get(endpoint.split(':')[0] as string);
        return s === undefined ? Promise.reject(new Error('unreachable')) : Promise.resolve(s);
      },
      clock: () => now, logger: createLogger('test', 'silent'),
    });
    set('w1', 0, 100, 1, [0, 0, 0, 0]);
    set('w2', 1, 50, 0, [0, 0, 0, 0]);
    let s = await feed.sample();
    expect(s.tasks.map((t) => t.inPerSec)).toEqual([null, null]); // one sample: no rate yet

    now = 2_000;
    set('w1', 0, 300, 3, [10, 10, 10, 10]);
    set('w2', 1, 150, 0, [0, 10, 10, 10]);
    s = await feed.sample();
    expect(s.tasks.map((t) => t.inPerSec)).toEqual([100, 50]);
    expect(s.throughput).toEqual({ inPerSec: 150, outPerSec: 150 });
    expect(s.lag).toBe(14);
    expect(s.latency.p50).toBe(10); // half the 20 records were ≤ 10 ms (w1's), the rest ≤ 100 ms
    expect(s.deadLetters.total).toBe(3);

    // w1 is killed; its task moves to w2, whose new instance counts from zero.
    now = 3_000;
    stats.delete('w1');
    view = { ...view, workers: [{ ...view.workers[0]!, alive: false, tasks: [] }, { ...view.workers[1]!, tasks: [0, 1] }], tasks: [{ task: 0, worker: 'w2', state: 'running' }, { task: 1, worker: 'w2', state: 'running' }] };
    stats.set('w2', {
      tasks: [
        { task: 0, state: 'running', queueDepth: 0, recordsIn: 20, recordsOut: 20, lag: 0, deadLetters: 2 },
        { task: 1, state: 'running', queueDepth: 0, recordsIn: 250, recordsOut: 250, lag: 0, deadLetters: 0 },
      ],
      recordLatency: histogram([0, 10, 10, 10]),
    });
    s = await feed.sample();
    expect(s.tasks.map((t) => [t.worker, t.inPerSec])).toEqual([['w2', null], ['w2', 100]]);
    expect(s.deadLetters.total).toBe(5);
    expect(s.workers.map((w) => [w.id, w.alive, w.reachable])).toEqual([['w1', false, false], ['w2', true, true]]);
  });
});

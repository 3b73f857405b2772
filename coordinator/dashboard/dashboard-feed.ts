/**
 * What the dashboard shows, sampled once a second: the cluster as the controller sees it, each
 * live worker's figures (`GET /api/v1/stats`: per task records in and out, queue, consumer lag,
 * dead letters, and its record-latency histogram), the checkpoints, and the latest results and
 * dead letters from Kafka. Rates and percentiles are computed here, from the difference between
 * samples, so a page gets numbers ready to draw. Pages follow it over server-sent events.
 */
import type { Logger } from '../../common/logger.ts';
import type { HistogramSnapshot, WorkerStats } from '../../worker/http-server.ts';
import type { CheckpointRecord } from '../checkpoints/checkpoint-history.ts';
import type { ClusterView } from '../cluster-controller.ts';
import { addCounts, histogramDelta, quantile, type BucketCounts } from './histogram.ts';
import type { TailRecord } from './topic-tail.ts';

export interface DashboardTask {
  task: number;
  worker: string | null;
  state: string;
  lastFailure?: string;
  /** Records per second over the last sample (null until two samples of the same owner). */
  inPerSec: number | null;
  outPerSec: number | null;
  queueDepth: number | null;
  lag: number | null;
}

export interface DashboardSnapshot {
  atMs: number;
  job: string;
  generation: number;
  workers: { id: string; pid: number; endpoint: string; alive: boolean; tasks: number[]; reachable: boolean }[];
  tasks: DashboardTask[];
  throughput: { inPerSec: number; outPerSec: number };
  lag: number;
  /** Source timestamp to handled, over the last `latencyWindowSec`, in ms (null without records). */
  latency: { p50: number | null; p95: number | null; p99: number | null; windowSec: number };
  checkpoints: { latestCompleted: number; recent: readonly CheckpointRecord[] };
  /** `total`: counted by the workers since this coordinator started; `recent`: the newest records of the dead-letter topic. */
  deadLetters: { total: number; topic: string; recent: TailRecord[] };
  results: { sink: string; topic: string; records: TailRecord[] }[];
}

export interface DashboardSources {
  job: string;
  view(): ClusterView;
  checkpoints(): { latestCompleted: number; recent: readonly CheckpointRecord[] };
  /** The latest records per topic (topic-tail.ts). */
  tail(): Record<string, TailRecord[]>;
  /** A page started watching (the results reader runs while any does); returns its release. */
  watch?: () => () => void;
  sinks: readonly { sink: string; topic: string }[];
  deadLetterTopic: string;
  /** Reads a worker's figures; rejects when it cannot be reached. */
  fetchStats(endpoint: string): Promise<WorkerStats>;
  clock(): number;
  logger: Logger;
}

/** Samples kept for the latency percentiles (one a second). */
const latencyWindow = 10;

type Sample = { atMs: number; recordsIn: number; recordsOut: number; deadLetters: number };

export class DashboardFeed {
  private snapshot: DashboardSnapshot;
  private readonly listeners = new Set<(snapshot: DashboardSnapshot) => void>();
  /** Per worker and task: the counters of the previous sample (a task's counters start again with each owner). */
  private readonly previous = new Map<string, Sample>();
  private readonly latencyBefore = new Map<string, HistogramSnapshot>();
  private readonly latencyDeltas: BucketCounts[] = [];
  /** Dead letters counted since this coordinator started (summed from each task instance's counter, so a killed worker's stay counted). */
  private deadLetterTotal = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(private readonly sources: DashboardSources) {
    this.snapshot = this.empty();
  }

  start(intervalMs = 1_000): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  latest(): DashboardSnapshot {
    return this.snapshot;
  }

  /** Calls `listener` with each new snapshot (a page watching); returns the unsubscribe. */
  subscribe(listener: (snapshot: DashboardSnapshot) => void): () => void {
    this.listeners.add(listener);
    const release = this.sources.watch?.();
    return () => {
      this.listeners.delete(listener);
      release?.();
    };
  }

  /** Takes one sample now (the timer calls this; tests may too). */
  async sample(): Promise<DashboardSnapshot> {
    if (this.sampling) return this.snapshot;
    this.sampling = true;
    try {
      this.snapshot = await this.build();
    } catch (err) {
      this.sources.logger.warn({ err: (err as Error).message }, 'dashboard: sampling failed');
    } finally {
      this.sampling = false;
    }
    for (const listener of this.listeners) listener(this.snapshot);
    return this.snapshot;
  }

  private async build(): Promise<DashboardSnapshot> {
    const s = this.sources;
    const view = s.view();
    const atMs = s.clock();
    const alive = view.workers.filter((w) => w.alive);
    const stats = new Map<string, WorkerStats>();
    await Promise.all(
      alive.map(async (w) => {
        try {
          stats.set(w.id, await s.fetchStats(w.endpoint));
        } catch {
          // Shown as unreachable; its tasks' figures stay empty.
        }
      }),
    );
    const tasks: DashboardTask[] = view.tasks.map((t) => {
      const summary = t.worker === null ? undefined : stats.get(t.worker)?.tasks.find((x) => x.task === t.task);
      const base: DashboardTask = { task: t.task, worker: t.worker, state: t.state, inPerSec: null, outPerSec: null, queueDepth: summary?.queueDepth ?? null, lag: summary?.lag ?? null };
      if (t.lastFailure !== undefined) base.lastFailure = t.lastFailure;
      if (summary === undefined || t.worker === null) return base;
      const key = `${t.worker}/${t.task}`;
      const before = this.previous.get(key);
      this.previous.set(key, { atMs, recordsIn: summary.recordsIn, recordsOut: summary.recordsOut, deadLetters: summary.deadLetters });
      // A new instance of the task (moved, restarted) counts from zero again.
      this.deadLetterTotal += summary.deadLetters - (before !== undefined && summary.deadLetters >= before.deadLetters ? before.deadLetters : 0);
      if (before !== undefined && atMs > before.atMs && summary.recordsIn >= before.recordsIn && summary.recordsOut >= before.recordsOut) {
        const seconds = (atMs - before.atMs) / 1000;
        base.inPerSec = (summary.recordsIn - before.recordsIn) / seconds;
        base.outPerSec = (summary.recordsOut - before.recordsOut) / seconds;
      }
      return base;
    });
    const window = new Map<string, number>();
    const delta: BucketCounts = new Map();
    for (const [worker, st] of stats) {
      addCounts(delta, histogramDelta(st.recordLatency, this.latencyBefore.get(worker)));
      this.latencyBefore.set(worker, st.recordLatency);
    }
    this.latencyDeltas.push(delta);
    this.latencyDeltas.splice(0, Math.max(0, this.latencyDeltas.length - latencyWindow));
    for (const d of this.latencyDeltas) addCounts(window, d);
    const ms = (q: number) => {
      const seconds = quantile(window, q);
      return seconds === undefined ? null : Math.round(seconds * 10_000) / 10;
    };
    const tail = s.tail();
    const sum = (f: (t: DashboardTask) => number | null) => tasks.reduce((total, t) => total + (f(t) ?? 0), 0);
    return {
      atMs,
      job: s.job,
      generation: view.generation,
      workers: view.workers.map((w) => ({ id: w.id, pid: w.pid, endpoint: w.endpoint, alive: w.alive, tasks: w.tasks, reachable: stats.has(w.id) })),
      tasks,
      throughput: { inPerSec: sum((t) => t.inPerSec), outPerSec: sum((t) => t.outPerSec) },
      lag: sum((t) => t.lag),
      latency: { p50: ms(0.5), p95: ms(0.95), p99: ms(0.99), windowSec: this.latencyDeltas.length },
      checkpoints: s.checkpoints(),
      deadLetters: {
        total: this.deadLetterTotal,
        topic: s.deadLetterTopic,
        recent: tail[s.deadLetterTopic] ?? [],
      },
      results: s.sinks.map(({ sink, topic }) => ({ sink, topic, records: tail[topic] ?? [] })),
    };
  }

  private empty(): DashboardSnapshot {
    return {
      atMs: this.sources.clock(), job: this.sources.job, generation: 0, workers: [], tasks: [], throughput: { inPerSec: 0, outPerSec: 0 }, lag: 0,
      latency: { p50: null, p95: null, p99: null, windowSec: 0 }, checkpoints: { latestCompleted: 0, recent: [] },
      deadLetters: { total: 0, topic: this.sources.deadLetterTopic, recent: [] }, results: [],
    };
  }
}

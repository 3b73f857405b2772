/**
 * A worker's Prometheus metrics (prom-client), served at `GET /metrics` on its endpoint. Names
 * follow Prometheus conventions: `eddy_` prefix, base units in names (`_seconds`, `_bytes`,
 * `_records`), `_total` for counters. Per-task series carry a `task` label; every series also
 * carries `role="worker"` and `worker=<id>`. Histograms observed per record or per checkpoint
 * have no `task` label, to keep the series count flat as tasks move.
 *
 * Gauges of a task describe the task on this worker only: `forgetTask` removes them when the
 * task leaves, so a moved task never shows stale values on its old worker.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SourceRecord } from './thread-protocol.ts';

/** Values of the ingest endpoint's `wait` query parameter (../shared/DESIGN.md). */
export type IngestWait = 'none' | 'processed' | 'committed';

export interface WorkerMetrics {
  registry: Registry;
  /** `eddy_task_records_in_total{task}`: source records a task handled. */
  recordsIn: Counter<'task'>;
  /** `eddy_task_records_out_total{task}`: records a task published to its sinks. */
  recordsOut: Counter<'task'>;
  /** `eddy_task_dead_letters_total{task}`: records a task sent to the dead-letter topic. */
  deadLetters: Counter<'task'>;
  /** `eddy_job_events_total{task, counter}`: the job's own counters (`ctx.count`), and `invalid.<source>` / `failed.<actor>` per dead letter. */
  jobEvents: Counter<'task' | 'counter'>;
  /** `eddy_task_queue_records{task}`: records queued for the task's actor thread. */
  queueRecords: Gauge<'task'>;
  /** `eddy_task_actors_active{task}`: actors held in memory. */
  actorsActive: Gauge<'task'>;
  /** `eddy_task_pending_outputs{task}`: exactly-once outputs and dead letters waiting for their checkpoint. */
  pendingOutputs: Gauge<'task'>;
  /** `eddy_task_handler_duration_seconds{task}`: one batch of records on the actor thread. */
  handlerSeconds: Histogram<'task'>;
  /** `eddy_record_latency_seconds`: Kafka record timestamp to handled; use `observeRecordLatency`. */
  recordLatencySeconds: Histogram;
  /** `eddy_consumer_lag_records{task,topic}`: use `setConsumerLag`, which `forgetTask` can undo. */
  consumerLagRecords: Gauge<'task' | 'topic'>;
  /** `eddy_task_commits_total{task}`: exactly-once transactions committed after a checkpoint. */
  commits: Counter<'task'>;
  /** `eddy_task_commit_duration_seconds`: one checkpoint's outputs, read and published in one transaction. */
  commitSeconds: Histogram;
  /** `eddy_task_restores_total{task,result}`: task starts (fence, restore, reopen); result `ok`, `failed` or `revoked`. */
  restores: Counter<'task' | 'result'>;
  /** `eddy_task_restore_duration_seconds`: Assign to running, for starts that reached running. */
  restoreSeconds: Histogram;
  /** `eddy_task_barriers_total{task}`: checkpoint barriers the task's actor thread took. */
  barriers: Counter<'task'>;
  /** `eddy_task_snapshot_duration_seconds`: barrier sent to snapshot file written. */
  snapshotSeconds: Histogram;
  /** `eddy_task_snapshot_bytes{task}`: size of the task's latest written snapshot. */
  snapshotBytes: Gauge<'task'>;
  /** `eddy_ingest_requests_total{wait,code}`: ingest requests answered, by HTTP status code. */
  ingestRequests: Counter<'wait' | 'code'>;
  /** `eddy_ingest_events_total{wait}`: events accepted by ingest requests (produced to Kafka). */
  ingestEvents: Counter<'wait'>;
  /** `eddy_ingest_request_duration_seconds{wait}`: request received to response sent. */
  ingestRequestSeconds: Histogram<'wait'>;
  /** `eddy_ingest_acks_total`: acks of ingested events this worker's endpoint received (over NATS, or from its own tasks). */
  ingestAcks: Counter;
  /** Observes now − Kafka timestamp for each record; records without a timestamp are skipped. */
  observeRecordLatency(records: readonly SourceRecord[], nowMs: number): void;
  setConsumerLag(task: number, topic: string, lagRecords: number): void;
  /** Removes the task's gauges (queue, actors, pending outputs, snapshot size, lag). */
  forgetTask(task: number): void;
}

/** Per-batch and per-checkpoint durations: 1 ms to 30 s. */
const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Record latency: exactly-once pipelines sit near one checkpoint interval, backlogs far above. */
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];
/** Ingest requests: fine between 5 and 250 ms, where `wait=processed` and `wait=committed` land. */
const ingestBuckets = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.35, 0.5, 1, 2.5, 5, 10];

export function createWorkerMetrics(workerId: string): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: 'worker', worker: workerId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const task = ['task'] as const;
  const gauges = {
    queueRecords: new Gauge({ name: 'eddy_task_queue_records', help: 'Records queued for the task\'s actor thread (above worker.queueRecordsMax its partitions pause)', labelNames: task, registers }),
    actorsActive: new Gauge({ name: 'eddy_task_actors_active', help: 'Actors the task holds in memory, after its latest batch or tick', labelNames: task, registers }),
    pendingOutputs: new Gauge({ name: 'eddy_task_pending_outputs', help: 'Exactly-once outputs and dead letters buffered until their checkpoint commits, after the latest batch or tick', labelNames: task, registers }),
    snapshotBytes: new Gauge({ name: 'eddy_task_snapshot_bytes', help: 'Size of the task\'s latest snapshot written to the checkpoint store', labelNames: task, registers }),
  };
  const consumerLagRecords = new Gauge({
    name: 'eddy_consumer_lag_records',
    help: 'High watermark minus the next offset to fetch, per task partition, as of its latest fetched batch (frozen while the partition is paused)',
    labelNames: ['task', 'topic'],
    registers,
  });
  const recordLatencySeconds = new Histogram({
    name: 'eddy_record_latency_seconds',
    help: 'From a source record\'s Kafka timestamp to the end of its handling on the actor thread (exactly-once outputs are published about one checkpoint later)',
    buckets: latencyBuckets,
    registers,
  });
  const lagTopics = new Map<number, Set<string>>();
  return {
    registry,
    ...gauges,
    consumerLagRecords,
    recordLatencySeconds,
    recordsIn: new Counter({ name: 'eddy_task_records_in_total', help: 'Source records a task handled on its actor thread', labelNames: task, registers }),
    recordsOut: new Counter({ name: 'eddy_task_records_out_total', help: 'Records a task published to its sinks (exactly-once ones when their transaction commits)', labelNames: task, registers }),
    deadLetters: new Counter({ name: 'eddy_task_dead_letters_total', help: 'Records a task sent to the dead-letter topic (undecodable, or their handler threw)', labelNames: task, registers }),
    jobEvents: new Counter({ name: 'eddy_job_events_total', help: 'Counters of the job: ctx.count(name), invalid.<source> per record its format or validation refused, failed.<actor> per record whose handler threw', labelNames: [...task, 'counter'], registers }),
    handlerSeconds: new Histogram({
      name: 'eddy_task_handler_duration_seconds',
      help: 'Time the actor thread took to handle one batch of records, request to response (includes waiting behind other tasks on the same thread)',
      labelNames: task,
      buckets: durationBuckets,
      registers,
    }),
    commits: new Counter({ name: 'eddy_task_commits_total', help: 'Kafka transactions a task committed to publish a completed checkpoint\'s outputs', labelNames: task, registers }),
    commitSeconds: new Histogram({ name: 'eddy_task_commit_duration_seconds', help: 'Publishing one completed checkpoint\'s outputs of a task: read from the actor thread, one Kafka transaction, buffer trimmed', buckets: durationBuckets, registers }),
    restores: new Counter({ name: 'eddy_task_restores_total', help: 'Task starts (fence, restore from a checkpoint or fresh, reopen partitions), by result: ok, failed, revoked', labelNames: ['task', 'result'], registers }),
    restoreSeconds: new Histogram({ name: 'eddy_task_restore_duration_seconds', help: 'From a task\'s Assign to running (fence, restore, publish pending outputs, seek), for starts that succeeded', buckets: durationBuckets, registers }),
    barriers: new Counter({ name: 'eddy_task_barriers_total', help: 'Checkpoint barriers a task\'s actor thread took', labelNames: task, registers }),
    snapshotSeconds: new Histogram({ name: 'eddy_task_snapshot_duration_seconds', help: 'From a barrier sent to the actor thread to its snapshot file written, per task and checkpoint', buckets: durationBuckets, registers }),
    ingestRequests: new Counter({ name: 'eddy_ingest_requests_total', help: 'Ingest requests answered, by wait mode and HTTP status code', labelNames: ['wait', 'code'], registers }),
    ingestEvents: new Counter({ name: 'eddy_ingest_events_total', help: 'Events produced to Kafka by ingest requests, by wait mode', labelNames: ['wait'], registers }),
    ingestRequestSeconds: new Histogram({ name: 'eddy_ingest_request_duration_seconds', help: 'Ingest request received to response sent, by wait mode (timeouts included)', labelNames: ['wait'], buckets: ingestBuckets, registers }),
    ingestAcks: new Counter({ name: 'eddy_ingest_acks_total', help: 'Acks of ingested events this worker\'s ingest endpoint received, over NATS or from its own tasks', registers }),
    observeRecordLatency(records, nowMs) {
      for (const r of records) {
        if (r.timestamp > 0) recordLatencySeconds.observe(Math.max(0, nowMs - r.timestamp) / 1000);
      }
    },
    setConsumerLag(t, topic, lagRecords) {
      let topics = lagTopics.get(t);
      if (topics === undefined) lagTopics.set(t, (topics = new Set()));
      topics.add(topic);
      consumerLagRecords.set({ task: String(t), topic }, lagRecords);
    },
    forgetTask(t) {
      const labels = { task: String(t) };
      for (const gauge of Object.values(gauges)) gauge.remove(labels);
      for (const topic of lagTopics.get(t) ?? []) consumerLagRecords.remove({ ...labels, topic });
      lagTopics.delete(t);
    },
  };
}

/**
 * A worker's Prometheus metrics (prom-client). Names follow Prometheus conventions: `eddy_`
 * prefix, units in names, `_total` for counters; per-task series carry a `task` label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface WorkerMetrics {
  registry: Registry;
  recordsIn: Counter<'task'>;
  recordsOut: Counter<'task'>;
  deadLetters: Counter<'task'>;
  queueRecords: Gauge<'task'>;
  actorsActive: Gauge<'task'>;
  batchSeconds: Histogram<'task'>;
}

export function createWorkerMetrics(workerId: string): WorkerMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: 'worker', worker: workerId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    recordsIn: new Counter({ name: 'eddy_task_records_in_total', help: 'Source records handed to a task', labelNames: ['task'], registers }),
    recordsOut: new Counter({ name: 'eddy_task_records_out_total', help: 'Records a task published to its sinks', labelNames: ['task'], registers }),
    deadLetters: new Counter({ name: 'eddy_task_dead_letters_total', help: 'Records a task sent to the dead-letter topic', labelNames: ['task'], registers }),
    queueRecords: new Gauge({ name: 'eddy_task_queue_records', help: 'Records waiting for the task\'s actor thread', labelNames: ['task'], registers }),
    actorsActive: new Gauge({ name: 'eddy_task_actors_active', help: 'Actors held in memory by the task', labelNames: ['task'], registers }),
    batchSeconds: new Histogram({
      name: 'eddy_task_batch_duration_seconds',
      help: 'Time to handle one batch of records on the actor thread and publish its outputs',
      labelNames: ['task'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}

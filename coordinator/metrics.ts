/**
 * The coordinator's Prometheus metrics, read from the ClusterController at scrape time (no
 * bookkeeping on the hot path). Names follow Prometheus conventions: `eddy_` prefix, units in
 * names, `_total` for counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CheckpointEvents } from './checkpoints/checkpoint-coordinator.ts';
import { abandonReasons } from './checkpoints/checkpoint-history.ts';
import type { ClusterController } from './cluster-controller.ts';

export interface CoordinatorMetrics {
  registry: Registry;
  assignmentChanges: Counter;
  taskFailures: Counter;
  checkpointEvents: CheckpointEvents;
}

const secondsBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createCoordinatorMetrics(controller: () => ClusterController | undefined): CoordinatorMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role: 'coordinator' });
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'eddy_assignment_generation',
    help: 'Generation of the current task assignment',
    registers: [registry],
    collect() {
      this.set(controller()?.tasks.generation ?? 0);
    },
  });
  new Gauge({
    name: 'eddy_workers_alive',
    help: 'Workers that are members of the cluster',
    registers: [registry],
    collect() {
      this.set(controller()?.view().workers.filter((w) => w.alive).length ?? 0);
    },
  });
  new Gauge({
    name: 'eddy_tasks',
    help: 'Tasks by lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of controller()?.view().tasks ?? []) this.inc({ state: t.state });
    },
  });
  new Gauge({
    name: 'eddy_tasks_failed',
    help: 'Tasks not running whose last attempt failed (the reason is in /api/v1/cluster as lastFailure)',
    registers: [registry],
    collect() {
      this.set(controller()?.view().tasks.filter((t) => t.lastFailure !== undefined).length ?? 0);
    },
  });
  const taskFailures = new Counter({
    name: 'eddy_task_failures_total',
    help: 'Tasks a worker reported as failed (could not start, or stopped by an error)',
    registers: [registry],
  });
  const assignmentChanges = new Counter({
    name: 'eddy_assignment_changes_total',
    help: 'Changes of task assignment (assign, revoke, task ready or failed)',
    registers: [registry],
  });
  const duration = new Histogram({ name: 'eddy_checkpoint_duration_seconds', help: 'From trigger to the last task\'s ack, per completed checkpoint', buckets: secondsBuckets, registers: [registry] });
  const commit = new Histogram({ name: 'eddy_checkpoint_commit_seconds', help: 'From trigger to CheckpointCommitted sent (manifest written)', buckets: secondsBuckets, registers: [registry] });
  const size = new Gauge({ name: 'eddy_checkpoint_size_bytes', help: 'Snapshot bytes of the latest completed checkpoint', registers: [registry] });
  const latest = new Gauge({ name: 'eddy_checkpoint_latest_completed', help: 'Id of the latest completed checkpoint', registers: [registry] });
  const completed = new Counter({ name: 'eddy_checkpoints_completed_total', help: 'Checkpoints completed', registers: [registry] });
  const failures = new Counter({ name: 'eddy_checkpoint_failures_total', help: 'Checkpoints abandoned, by reason', labelNames: ['reason'], registers: [registry] });
  // Every reason from the start, at 0: a rate or an alert over it then has a series before the first failure.
  for (const reason of abandonReasons) failures.inc({ reason }, 0);
  const checkpointEvents: CheckpointEvents = {
    completed(record, commitMs) {
      duration.observe(record.durationMs / 1000);
      commit.observe(commitMs / 1000);
      size.set(record.bytes);
      latest.set(record.id);
      completed.inc();
    },
    abandoned(reason) {
      failures.inc({ reason });
    },
  };
  return { registry, assignmentChanges, taskFailures, checkpointEvents };
}

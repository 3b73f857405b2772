/**
 * The coordinator's Prometheus metrics, read from the ClusterController at scrape time (no
 * bookkeeping on the hot path). Names follow Prometheus conventions: `eddy_` prefix, units in
 * names, `_total` for counters.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterController } from './cluster-controller.ts';

export interface CoordinatorMetrics {
  registry: Registry;
  assignmentChanges: Counter;
}

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
  const assignmentChanges = new Counter({
    name: 'eddy_assignment_changes_total',
    help: 'Changes of task assignment (assign, revoke, task ready or failed)',
    registers: [registry],
  });
  return { registry, assignmentChanges };
}

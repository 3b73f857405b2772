/**
 * A coordinator process: prepares the job's topics, learns the task count (re-sharding the
 * newest checkpoint when it changed, see rescale.ts), and serves the control protocol (gRPC)
 * and the admin API (HTTP) around one ClusterController, ticking it for heartbeat deadlines.
 * Data never passes through here.
 */
import type { EddyConfig } from '../common/config.ts';
import { checkpointStoreFor } from '../state/checkpoint-store.ts';
import { CheckpointCoordinator } from './checkpoints/checkpoint-coordinator.ts';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import { prepareJobTopics } from '../job/topics.ts';
import { startAdminServer } from './admin-server.ts';
import { ClusterController } from './cluster-controller.ts';
import { rescaleOnStart } from './rescale.ts';
import { startControlServer } from './control-server.ts';
import { createCoordinatorMetrics } from './metrics.ts';

export interface RunningCoordinator {
  controlPort: number;
  adminPort: number;
  taskCount: number;
  stop(): Promise<void>;
}

export interface CoordinatorOptions {
  job: JobDefinition;
  brokers: string[];
  cluster: EddyConfig['cluster'];
  checkpoint: EddyConfig['checkpoint'] & { dir: string };
  logger: Logger;
}

export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const { job, cluster, logger } = options;
  const kafka = createKafka(options.brokers, `eddy-${job.name}-coordinator`, logger);
  const taskCount = await prepareJobTopics(kafka, job, logger);
  const store = checkpointStoreFor(options.checkpoint.dir, job.name);
  await rescaleOnStart({ kafka, job, store, taskCount, logger });
  const metrics = createCoordinatorMetrics(() => controller);
  const controller: ClusterController = new ClusterController({
    job: job.name,
    taskCount,
    heartbeatIntervalMs: cluster.heartbeatIntervalMs,
    heartbeatTimeoutMs: cluster.heartbeatTimeoutMs,
    revokeTimeoutMs: cluster.revokeTimeoutMs,
    adoptGraceMs: cluster.adoptGraceMs,
    expectWorkers: cluster.expectWorkers,
    expectWorkersWaitMs: cluster.expectWorkersWaitMs,
    // Monotonic: a wall-clock jump must not evict live workers or keep dead ones.
    clock: () => performance.now(),
    logger,
    onChange: () => metrics.assignmentChanges.inc(),
    onTaskFailed: () => metrics.taskFailures.inc(),
  });
  const checkpoints = new CheckpointCoordinator(
    {
      job: job.name,
      intervalMs: options.checkpoint.intervalMs,
      timeoutMs: options.checkpoint.timeoutMs,
      retain: options.checkpoint.retain,
      store,
      clock: Date.now,
      logger,
      events: metrics.checkpointEvents,
    },
    controller.checkpointHost(),
  );
  await checkpoints.recover();
  controller.attachCheckpoints(checkpoints);
  const control = await startControlServer({ host: cluster.host, port: cluster.controlPort, controller, logger });
  const admin = await startAdminServer({ host: cluster.host, port: cluster.adminPort, controller, checkpoints, registry: metrics.registry });
  const ticker = setInterval(() => controller.tick(), Math.max(25, Math.min(Math.floor(cluster.heartbeatIntervalMs / 2), Math.floor(options.checkpoint.intervalMs / 4))));
  const address = admin.server.address();
  const adminPort = typeof address === 'object' && address !== null ? address.port : cluster.adminPort;
  logger.info({ job: job.name, taskCount, control: `${cluster.host}:${control.port}`, admin: `http://${cluster.host}:${adminPort}` }, 'coordinator ready');
  return {
    controlPort: control.port,
    adminPort,
    taskCount,
    stop: async () => {
      clearInterval(ticker);
      await control.close();
      await admin.close();
    },
  };
}

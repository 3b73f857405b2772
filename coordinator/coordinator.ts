/**
 * A coordinator process: prepares the job's topics, learns the task count (re-sharding the
 * newest checkpoint when it changed, see rescale.ts), and serves the control protocol (gRPC)
 * and the admin API (HTTP) around one ClusterController, ticking it for heartbeat deadlines.
 * Data never passes through here.
 */
import type { EddyConfig } from '../common/config.ts';
import { checkpointStoreFor } from '../state/checkpoint-store.ts';
import type { ObjectStoreOptions } from '../state/s3-store-files.ts';
import { CheckpointCoordinator } from './checkpoints/checkpoint-coordinator.ts';
import type { TlsFiles } from '../common/cluster-tls.ts';
import { bearer, type HttpTokens } from '../common/http-auth.ts';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import { deadLetterTopic, prepareJobTopics } from '../job/topics.ts';
import type { WorkerStats } from '../worker/http-server.ts';
import { DashboardFeed } from './dashboard/dashboard-feed.ts';
import { TopicTail } from './dashboard/topic-tail.ts';
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
  /** The checkpoint store in an S3-compatible object store instead of `checkpoint.dir` (then its cache). */
  objectStore?: ObjectStoreOptions | undefined;
  /** Bearer tokens the admin API requires (and the one it presents to workers); none: open. */
  tokens?: HttpTokens;
  /** Mutual TLS on the control plane (common/cluster-tls.ts); none: plain text. */
  tls?: TlsFiles;
  logger: Logger;
}

export async function startCoordinator(options: CoordinatorOptions): Promise<RunningCoordinator> {
  const { job, cluster, logger } = options;
  const kafka = createKafka(options.brokers, `eddy-${job.name}-coordinator`, logger);
  const taskCount = await prepareJobTopics(kafka, job, logger);
  const store = checkpointStoreFor(options.checkpoint.dir, job.name, options.objectStore === undefined ? undefined : { options: options.objectStore, process: 'coordinator' });
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
  const control = await startControlServer({ host: cluster.host, port: cluster.controlPort, controller, logger, tls: options.tls });
  // The job's own Kafka sinks; repartition and other internal topics are not results.
  const sinks = Object.entries(job.sinks).flatMap(([sink, s]) => (s.kind === 'kafka' && s.internal !== true ? [{ sink, topic: s.topic }] : []));
  const tail = new TopicTail({ kafka, job: job.name, topics: [...new Set([...sinks.map((s) => s.topic), deadLetterTopic(job)])], logger });
  const dashboard = new DashboardFeed({
    job: job.name,
    view: () => controller.view(),
    checkpoints: () => ({ latestCompleted: checkpoints.latestCompleted, recent: checkpoints.history.recent() }),
    tail: () => tail.records(),
    watch: () => tail.acquire(),
    sinks,
    deadLetterTopic: deadLetterTopic(job),
    fetchStats: async (endpoint) => {
      const response = await fetch(`http://${endpoint}/api/v1/stats`, { headers: bearer(options.tokens?.clientToken), signal: AbortSignal.timeout(800) });
      if (!response.ok) throw new Error(`worker ${endpoint} answered ${response.status}`);
      return (await response.json()) as WorkerStats;
    },
    clock: Date.now,
    logger,
  });
  dashboard.start();
  const admin = await startAdminServer({ host: cluster.host, port: cluster.adminPort, controller, checkpoints, registry: metrics.registry, dashboard, tokens: options.tokens });
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
      dashboard.stop();
      await control.close();
      await admin.close();
      await tail.stop();
    },
  };
}

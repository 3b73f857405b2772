/**
 * The Kafka topics of a job as the cluster sees them: which to create, how many tasks the job
 * has (the partition count shared by all its sources), and where dead letters go.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../common/logger.ts';
import type { JobDefinition } from './contract/job.ts';

/** Dead letters of a job: original key, value and headers, plus `eddy.dlq.*` headers saying why. */
export function deadLetterTopic(job: JobDefinition): string {
  return `eddy.${job.name}.dlq`;
}

/**
 * The job's commit markers: partition t holds task t's marker records (compacted), and the
 * consumer group of the same name holds, at partition t, the id of the last checkpoint whose
 * outputs task t published. Both are written in the publishing transaction.
 */
export function commitsTopic(job: JobDefinition): string {
  return `eddy.${job.name}.commits`;
}

/** The repartition topics of the job (created by Eddy with one partition per task). */
export function internalTopics(job: JobDefinition): string[] {
  return [...new Set(Object.values(job.sources).flatMap((s) => (s.internal === true ? [s.topic] : [])))];
}

function externalSourceTopics(job: JobDefinition): string[] {
  return [...new Set(Object.values(job.sources).flatMap((s) => (s.internal === true ? [] : [s.topic])))];
}

/** Every source topic of the job, in definition order, without repeats. */
export function sourceTopics(job: JobDefinition): string[] {
  return [...new Set(Object.values(job.sources).map((s) => s.topic))];
}

/**
 * Creates the job's topics that declare a partition count and do not exist yet, then returns
 * the number of tasks: the partition count of the sources, which must all agree.
 */
export async function prepareJobTopics(kafka: Kafka, job: JobDefinition, logger: Logger): Promise<number> {
  // A topic created a moment ago can be briefly unknown to metadata requests, and for longer on a
  // broker still loading a big log directory after a restart: retry those for a while.
  const deadline = Date.now() + retryForMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await prepareOnce(kafka, job, logger);
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true;
      if (!retriable || Date.now() >= deadline) throw err;
      logger.warn({ attempt, err: (err as Error).message }, 'preparing job topics failed; retrying');
      await sleep(Math.min(200 * attempt, 2_000));
    }
  }
}

const retryForMs = 60_000;

async function prepareOnce(kafka: Kafka, job: JobDefinition, logger: Logger): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const create = async (topics: { topic: string; numPartitions: number; replicationFactor: number; configEntries?: { name: string; value: string }[] }[]): Promise<void> => {
      await admin.createTopics({ topics, waitForLeaders: true });
      for (const t of topics) existing.add(t.topic);
    };
    const wanted = [...Object.values(job.sources), ...Object.values(job.sinks).filter((s) => s.kind === 'kafka')]
      .filter((t) => t.internal !== true && t.partitions !== undefined && !existing.has(t.topic))
      .map((t) => ({ topic: t.topic, numPartitions: t.partitions as number, replicationFactor: -1, configEntries: 'upsert' in t && t.upsert === true ? [{ name: 'cleanup.policy', value: 'compact' }] : [] }));
    const unique = [...new Map(wanted.map((t) => [t.topic, t])).values()];
    if (unique.length > 0) {
      await create(unique);
      logger.info({ topics: unique.map((t) => t.topic) }, 'created job topics');
    }
    const metadata = await admin.fetchTopicMetadata({ topics: externalSourceTopics(job) });
    const counts = metadata.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length }));
    const taskCount = counts[0]?.partitions ?? 0;
    const internal = internalTopics(job);
    const missing = internal.filter((topic) => !existing.has(topic));
    if (missing.length > 0 && taskCount > 0) {
      // retention.ms=-1: records carry their event time as the Kafka timestamp, and time-based
      // retention would delete those older than 7 days before the next task read them.
      await create(missing.map((topic) => ({ topic, numPartitions: taskCount, replicationFactor: -1, configEntries: [{ name: 'retention.ms', value: '-1' }] })));
      logger.info({ topics: missing }, 'created repartition topics');
    }
    if (internal.length > 0) {
      await growToTaskCount(admin, internal, taskCount, logger);
      const internalMetadata = await admin.fetchTopicMetadata({ topics: internal });
      counts.push(...internalMetadata.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length })));
    }
    if (taskCount === 0 || counts.some((c) => c.partitions !== taskCount)) {
      throw new Error(
        `job '${job.name}': source topics must exist and be co-partitioned (same partition count): ${counts.map((c) => `${c.topic}=${c.partitions}`).join(', ')}`,
      );
    }
    const dlq = deadLetterTopic(job);
    if (!existing.has(dlq)) await create([{ topic: dlq, numPartitions: taskCount, replicationFactor: -1 }]);
    const commits = commitsTopic(job);
    if (!existing.has(commits)) {
      await create([{ topic: commits, numPartitions: taskCount, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
    }
    await growToTaskCount(admin, [dlq, commits], taskCount, logger);
    return taskCount;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Adds partitions to Eddy's own per-task topics (repartition, dead-letter, commits) that have
 * fewer than the task count: the sources grew, and the job is being rescaled (see
 * coordinator/rescale.ts). Partitions are never removed; a topic with more is left for the
 * co-partitioning check to report.
 */
async function growToTaskCount(admin: Admin, topics: string[], taskCount: number, logger: Logger): Promise<void> {
  const metadata = await admin.fetchTopicMetadata({ topics });
  const short = metadata.topics.filter((t) => t.partitions.length < taskCount);
  if (short.length === 0) return;
  await admin.createPartitions({ topicPartitions: short.map((t) => ({ topic: t.name, count: taskCount })) });
  logger.info({ topics: short.map((t) => `${t.name}: ${t.partitions.length} -> ${taskCount}`) }, 'added partitions to the job\'s own topics to match its sources');
}

/** Every topic the coordinator prepares for the job and its workers use: sources, Kafka sinks, dead letters and commit markers. */
export function jobTopics(job: JobDefinition): string[] {
  const sinks = Object.values(job.sinks).flatMap((s) => (s.kind === 'kafka' ? [s.topic] : []));
  return [...new Set([...sourceTopics(job), ...sinks, deadLetterTopic(job), commitsTopic(job)])];
}

/**
 * Waits until the coordinator has prepared the job's topics: all exist, and the sources, dead
 * letters and commit markers have one partition count. A worker launched together with the
 * coordinator would otherwise subscribe to, or produce to, a topic that is not there yet.
 * Logs what it waits for at the start and every `reportEveryMs`; resolves with the task count.
 */
export async function waitForJobTopics(admin: Admin, job: JobDefinition, logger: Logger, options: { pollMs?: number; reportEveryMs?: number; signal?: AbortSignal } = {}): Promise<number> {
  const pollMs = options.pollMs ?? 100;
  const reportEveryMs = options.reportEveryMs ?? 30_000;
  const wanted = jobTopics(job);
  const partitioned = [...sourceTopics(job), deadLetterTopic(job), commitsTopic(job)];
  let reportedAt: number | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    let waitingFor: string;
    try {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((topic) => !existing.has(topic));
      if (missing.length === 0) {
        const counts = (await admin.fetchTopicMetadata({ topics: partitioned })).topics.map((t) => [t.name, t.partitions.length] as const);
        if (new Set(counts.map(([, n]) => n)).size === 1 && (counts[0]?.[1] ?? 0) > 0) return counts[0]![1];
        waitingFor = `one partition count for ${counts.map(([t, n]) => `${t}=${n}`).join(', ')}`;
      } else {
        waitingFor = `topics ${missing.join(', ')}`;
      }
    } catch (err) {
      // A topic created a moment ago can be briefly unknown to metadata requests.
      if ((err as { retriable?: boolean }).retriable !== true) throw err;
      waitingFor = `topic metadata (${(err as Error).message})`;
    }
    const now = Date.now();
    if (reportedAt === undefined || now - reportedAt >= reportEveryMs) {
      logger.info({ job: job.name }, `waiting for the coordinator to prepare the job's ${waitingFor}`);
      reportedAt = now;
    }
    await sleep(pollMs);
  }
}

/**
 * `eddy reset`: start a job over from the beginning of its input, as Kafka Streams' application
 * reset tool does. Deletes what ties a job to its past runs: its checkpoint store (state, source
 * offsets and unpublished outputs) and its commit markers (topic and consumer group
 * `eddy.<job>.commits`). Output and dead-letter topics are the user's and stay; the next run
 * publishes its results again into them. Run it with the cluster stopped.
 */
import { rm } from 'node:fs/promises';
import { Command } from 'commander';
import { checkpointDir, kafkaBrokers, loadConfig } from '../common/config.ts';
import { createKafka } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { checkpointStoreFor } from '../state/checkpoint-store.ts';
import { loadJob } from '../job/load.ts';
import { commitsTopic, internalTopics } from '../job/topics.ts';

export function resetCommand(): Command {
  return new Command('reset')
    .description('start a job over: delete its checkpoints, commit markers and repartition topics (outputs stay); run with the cluster stopped')
    .requiredOption('--job <name|path>', 'built-in job name or path of a job module')
    .option('--yes', 'do it (without it, only say what would be deleted)')
    .action(async (flags: { job: string; yes?: boolean }) => {
      const config = loadConfig();
      const job = await loadJob(flags.job);
      const store = checkpointStoreFor(checkpointDir(config), job.name);
      const topic = commitsTopic(job);
      // Repartition topics hold records of the old run; read again, they would count twice.
      const internal = internalTopics(job);
      const internalText = internal.length === 0 ? '' : `, and the repartition topics ${internal.join(', ')}`;
      if (flags.yes !== true) {
        console.log(`would delete the checkpoint store ${store.root}, the topic and consumer group ${topic}${internalText}; run again with --yes to do it`);
        return;
      }
      const kafka = createKafka(kafkaBrokers(config), `eddy-${job.name}-reset`, createLogger('reset', 'warn'));
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const doomed = [topic, ...internal].filter((t) => existing.has(t));
        if (doomed.length > 0) await admin.deleteTopics({ topics: doomed });
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
        if (groups.includes(topic)) await admin.deleteGroups([topic]);
      } finally {
        await admin.disconnect();
      }
      await rm(store.root, { recursive: true, force: true });
      console.log(`job ${job.name} reset: deleted ${store.root} and ${topic}${internalText}; its next run starts from the beginning of its input`);
    });
}

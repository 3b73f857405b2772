/**
 * `eddy reset`: start a job over from the beginning of its input, as Kafka Streams' application
 * reset tool does. Deletes what ties a job to its past runs: its checkpoint store (state, source
 * offsets and unpublished outputs) and its commit markers (topic and consumer group
 * `eddy.<job>.commits`). Output and dead-letter topics are the user's and stay; the next run
 * publishes its results again into them. Run it with the cluster stopped.
 */
import { Command } from 'commander';
import { checkpointDir, kafkaBrokers, loadConfig } from '../common/config.ts';
import { objectStoreOptions } from '../common/connection-security.ts';
import { createKafka } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import { checkpointStoreFor } from '../state/checkpoint-store.ts';
import { loadJob } from '../job/load.ts';
import { commitsTopic, internalTopics } from '../job/topics.ts';
import type { JobDefinition } from '../job/contract/job.ts';
import pg from 'pg';

export function resetCommand(): Command {
  return new Command('reset')
    .description('start a job over: delete its checkpoints, commit markers and repartition topics (outputs stay); run with the cluster stopped')
    .requiredOption('--job <name|path>', 'built-in job name or path of a job module')
    .option('--yes', 'do it (without it, only say what would be deleted)')
    .action(async (flags: { job: string; yes?: boolean }) => {
      const config = loadConfig();
      const job = await loadJob(flags.job);
      const objects = objectStoreOptions(config);
      const store = checkpointStoreFor(checkpointDir(config), job.name, objects === undefined ? undefined : { options: objects, process: 'reset' });
      const topic = commitsTopic(job);
      // Repartition topics hold records of the old run; read again, they would count twice.
      const internal = internalTopics(job);
      const internalText = internal.length === 0 ? '' : `, and the repartition topics ${internal.join(', ')}`;
      const postgresText = Object.values(job.sinks).some((s) => s.kind === 'postgres') ? ', its PostgreSQL sinks\' marks (eddy_sink.epochs; the rows it wrote stay)' : '';
      if (flags.yes !== true) {
        console.log(`would delete the checkpoint store ${store.location}, the topic and consumer group ${topic}${internalText}${postgresText}; run again with --yes to do it`);
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
      await store.files.destroy();
      const databases = await forgetPostgresMarks(job);
      const databaseText = databases.length === 0 ? '' : `, and its marks in eddy_sink.epochs of ${databases.join(', ')}`;
      console.log(`job ${job.name} reset: deleted ${store.location} and ${topic}${internalText}${databaseText}; its next run starts from the beginning of its input`);
    });
}

/**
 * Deletes the job's marks (and kept dead letters) in each database its PostgreSQL sinks write:
 * they name the deleted checkpoint store, and a new run would refuse to start from them.
 * Returns the databases cleared (as host/database, no credentials).
 */
async function forgetPostgresMarks(job: JobDefinition): Promise<string[]> {
  const connections = new Set<string>();
  for (const [name, sink] of Object.entries(job.sinks)) {
    if (sink.kind !== 'postgres') continue;
    const connection = sink.connection ?? process.env.EDDY_POSTGRES_URL;
    if (connection === undefined || connection === '') throw new Error(`sink '${name}' writes PostgreSQL but no EDDY_POSTGRES_URL is set: set it as the workers have it, so that reset can clear the job's marks there`);
    connections.add(connection);
  }
  const cleared: string[] = [];
  for (const connection of connections) {
    const client = new pg.Client({ connectionString: connection });
    await client.connect();
    try {
      const exists = await client.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'eddy_sink' AND table_name = 'epochs'");
      if (exists.rowCount !== 0) {
        await client.query('DELETE FROM eddy_sink.epochs WHERE job = $1', [job.name]);
        await client.query('DELETE FROM eddy_sink.rejects WHERE job = $1', [job.name]);
      }
      cleared.push(`${client.host}:${client.port}/${client.database ?? ''}`);
    } finally {
      await client.end();
    }
  }
  return cleared;
}

/**
 * All exactly-once sinks of one task behind the one seam restore and publishing use: the Kafka
 * transaction (Kafka sinks, repartitions, dead letters, the marker) and one PostgreSQL
 * transaction per database. Without XA they commit one after another, so each keeps its own
 * mark of the newest checkpoint it published, and each publish skips what that part already has.
 *
 * Order of a publish: the databases first, then Kafka. Rows a database refuses become dead
 * letters, which must reach the Kafka dead-letter topic exactly once: the database keeps them in
 * the transaction that refused them (`eddy_sink.rejects`), and a Kafka side that fell behind
 * (the worker died between the two commits) reads them back when it publishes that checkpoint.
 */
import type { JobDefinition, PostgresSink } from '../job/contract/job.ts';
import type { ExactlyOnceSink, PublishedMark } from '../job/contract/sink.ts';
import type { Logger } from '../common/logger.ts';
import { PostgresTaskSink } from './postgres-sink.ts';
import type { TaskTransactions } from './task-transactions.ts';
import type { BufferedOutput, DeadLetter } from './thread-protocol.ts';

export class TaskSinks implements ExactlyOnceSink {
  private kafkaMark = 0;
  private readonly databaseMarks = new Map<PostgresTaskSink, number>();

  constructor(
    private readonly kafka: TaskTransactions,
    private readonly databases: readonly PostgresTaskSink[],
  ) {}

  /** The PostgreSQL sinks of `job` grouped by database, one {@link PostgresTaskSink} each. */
  static databasesOf(job: JobDefinition, task: number, storeId: () => Promise<string>, logger: Logger, env: NodeJS.ProcessEnv = process.env): PostgresTaskSink[] {
    const byConnection = new Map<string, { name: string; sink: PostgresSink }[]>();
    for (const [name, sink] of Object.entries(job.sinks)) {
      if (sink.kind !== 'postgres') continue;
      const connection = sink.connection ?? env.EDDY_POSTGRES_URL;
      if (connection === undefined || connection === '') {
        throw new Error(`sink '${name}' writes PostgreSQL table ${sink.table} but has no connection: set EDDY_POSTGRES_URL for the workers (or postgresSink(..., { connection }))`);
      }
      byConnection.set(connection, [...(byConnection.get(connection) ?? []), { name, sink }]);
    }
    return [...byConnection].map(([connection, sinks]) => new PostgresTaskSink({ connection, job: job.name, task, sinks, storeId, logger }));
  }

  async fence(): Promise<void> {
    await this.kafka.fence();
    for (const database of this.databases) await database.fence();
  }

  /**
   * The newest checkpoint any part published (restore goes no lower), with `oldest`, the
   * newest checkpoint every part has. Marks from different checkpoint stores are refused.
   */
  async lastPublished(): Promise<PublishedMark | undefined> {
    const kafka = await this.kafka.lastPublished();
    this.kafkaMark = kafka?.checkpointId ?? 0;
    const marks = [kafka];
    for (const database of this.databases) {
      const mark = await database.lastPublished();
      this.databaseMarks.set(database, mark?.checkpointId ?? 0);
      marks.push(mark);
    }
    const present = marks.filter((m): m is PublishedMark => m !== undefined);
    const stores = new Set(present.map((m) => m.store));
    if (stores.size > 1) {
      throw new Error(`the task's sinks name different checkpoint stores (${[...stores].join(', ')}): they were written by different runs of the job; reset the job (eddy reset) or point it at the right checkpoint directory`);
    }
    const newest = Math.max(0, ...present.map((m) => m.checkpointId));
    if (newest === 0) return undefined;
    const oldest = Math.min(...marks.map((m) => m?.checkpointId ?? 0));
    return { checkpointId: newest, store: present[0]?.store, oldest };
  }

  async publish(checkpointId: number, outputs: readonly BufferedOutput[], progress?: Readonly<Record<string, number>>): Promise<void> {
    const rejects: DeadLetter[] = [];
    // The parts at the lowest mark take every output given (the caller gives what they lack); a
    // part ahead of them (only after a restore, between two parts' commits) skips the epochs it has.
    const lowest = Math.min(this.kafkaMark, ...this.databaseMarks.values());
    const newFor = (mark: number) => (o: BufferedOutput) => mark === lowest || o.epoch > mark;
    for (const database of this.databases) {
      const mark = this.databaseMarks.get(database) ?? 0;
      if (mark < checkpointId) {
        const rows = outputs.flatMap((o) => ('output' in o && newFor(mark)(o) && database.sinkNames.has(o.output.sink) ? [o.output] : []));
        await database.publish(checkpointId, rows, this.kafkaMark);
        this.databaseMarks.set(database, checkpointId);
      }
      // The dead letters of every checkpoint the database has and Kafka not yet, as the database
      // kept them: those of this publish, of a retry whose first attempt committed unseen, and of
      // checkpoints an earlier owner published there before dying.
      if (this.kafkaMark < checkpointId) rejects.push(...(await database.rejectsBetween(this.kafkaMark, checkpointId)));
    }
    if (this.kafkaMark >= checkpointId) return;
    const forKafka: BufferedOutput[] = outputs.filter((o) => newFor(this.kafkaMark)(o) && ('deadLetter' in o || !this.databases.some((d) => d.sinkNames.has(o.output.sink))));
    for (const deadLetter of rejects) forKafka.push({ epoch: checkpointId, deadLetter });
    await this.kafka.publish(checkpointId, forKafka, progress);
    this.kafkaMark = checkpointId;
  }

  taskCount(): Promise<number> {
    return this.kafka.taskCount();
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.kafka.close(), ...this.databases.map((d) => d.close())]);
  }
}

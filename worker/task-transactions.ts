/**
 * The exactly-once side of one task's sinks: a transactional producer whose id follows the task
 * (`eddy.<job>.<task>`), so whoever owns the task now fences every earlier owner. Publishing
 * checkpoint n's outputs, its marker record and the marker offset (group `eddy.<job>.commits`,
 * partition = task, offset = n) happens in ONE Kafka transaction: either all of it is visible
 * to read_committed readers, or none of it.
 */
import type { Admin, Kafka, Message, Producer } from 'kafkajs';
import type { JobDefinition } from '../job/contract/job.ts';
import type { ExactlyOnceSink } from '../job/contract/sink.ts';
import { commitsTopic, deadLetterTopic } from '../job/topics.ts';
import { readLastMarker, type Marker } from './marker-reader.ts';
import { deadLetterMessage, MessagesByTopic, outputMessage, sinkTopic } from './kafka-sinks.ts';
import type { BufferedOutput } from './thread-protocol.ts';
import { watermarkMarkerHeaders } from './runtime/call-context.ts';

export class TaskTransactions implements ExactlyOnceSink {
  private readonly producer: Producer;
  private readonly commits: string;

  /**
   * `admin`: the worker's connected admin client, shared by its tasks. `storeId`: the checkpoint
   * store whose checkpoints the markers name (read when the first marker is written).
   */
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly job: JobDefinition,
    readonly task: number,
    private readonly storeId: () => Promise<string>,
  ) {
    this.producer = kafka.producer({
      transactionalId: `eddy.${job.name}.${task}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    });
    this.commits = commitsTopic(job);
  }

  /**
   * Initialises the transactional id now: the broker aborts a dead owner's open transaction (or
   * waits for one that is committing) and fences every earlier producer of the id. Must come
   * before reading the marker. kafkajs' connect() does not do this for a transactional
   * producer (it initialises one lazily, on its first transaction), so a zombie that had not
   * published yet would have initialised late and fenced the new owner instead; an empty
   * transaction makes the init happen here, and aborting it sends nothing.
   */
  async fence(): Promise<void> {
    await this.producer.connect();
    const transaction = await this.producer.transaction();
    await transaction.abort();
  }

  /**
   * The newest checkpoint whose outputs this task published, and the store it is from
   * (undefined: nothing was ever published), as committed in Kafka. Read from the marker
   * records (read_committed, partition = task), not the group offset: Kafka applies a
   * transaction's offsets to the group asynchronously after the commit, so a group offset read
   * right after fencing can still show the previous marker (seen in a chaos run: a graceful
   * handover republished one epoch). The marker record is visible as soon as the transaction's
   * commit marker is in the partition, which fencing waits for. A group offset without any
   * marker record (the topic was deleted and made again) is reported as a marker of no known store.
   */
  async lastPublished(): Promise<Marker | undefined> {
    const record = await readLastMarker(this.kafka, this.admin, this.commits, this.task);
    if (record !== undefined) return record;
    const [topic] = await this.admin.fetchOffsets({ groupId: this.commits, topics: [this.commits] });
    const fromGroup = Number(topic?.partitions.find((p) => p.partition === this.task)?.offset ?? '-1');
    return fromGroup > 0 ? { checkpointId: fromGroup, store: undefined } : undefined;
  }

  /**
   * Publishes `outputs` and the marker of checkpoint `checkpointId` atomically; `progress` (per
   * repartition sink, a watermark) goes after them as a watermark marker on every partition of
   * that repartition topic.
   */
  async publish(checkpointId: number, outputs: readonly BufferedOutput[], progress: Readonly<Record<string, number>> = {}): Promise<void> {
    const messages = new MessagesByTopic();
    for (const item of outputs) {
      if ('deadLetter' in item) messages.add(deadLetterTopic(this.job), deadLetterMessage(item.deadLetter));
      else messages.add(sinkTopic(this.job, item.output.sink), outputMessage(item.output));
    }
    for (const [sink, watermarkMs] of Object.entries(progress)) {
      const topic = sinkTopic(this.job, sink);
      const headers = watermarkMarkerHeaders(this.task, watermarkMs);
      for (let partition = 0; partition < (await this.partitionsOf(topic)); partition++) messages.add(topic, { partition, key: null, value: null, headers });
    }
    messages.add(this.commits, {
      key: `${this.job.name}/${this.task}`,
      partition: this.task,
      value: JSON.stringify({ job: this.job.name, task: this.task, checkpointId, store: await this.storeId(), outputs: outputs.length }),
    });
    const transaction = await this.producer.transaction();
    try {
      // In slices: kafkajs encodes a request in one synchronous go, and one large encode would
      // stall the worker's event loop (ingest answers, fetches) for tens of milliseconds.
      for (const topicMessages of slices(messages.byTopic, publishSliceMessages)) {
        await transaction.sendBatch({ acks: -1, topicMessages });
      }
      await transaction.sendOffsets({
        consumerGroupId: this.commits,
        topics: [{ topic: this.commits, partitions: [{ partition: this.task, offset: String(checkpointId) }] }],
      });
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }

  /** The job's task count: the partitions of its commits topic, created with one per task. */
  taskCount(): Promise<number> {
    return this.partitionsOf(this.commits);
  }

  private readonly partitionCounts = new Map<string, number>();

  private async partitionsOf(topic: string): Promise<number> {
    let count = this.partitionCounts.get(topic);
    if (count === undefined) {
      const metadata = await this.admin.fetchTopicMetadata({ topics: [topic] });
      count = metadata.topics[0]?.partitions.length ?? 0;
      this.partitionCounts.set(topic, count);
    }
    return count;
  }
}

/** Messages per produce request inside one publishing transaction. */
const publishSliceMessages = 500;

/** Splits messages grouped by topic into requests of at most `size` messages, order kept per topic. */
export function slices(byTopic: ReadonlyMap<string, Message[]>, size: number): { topic: string; messages: Message[] }[][] {
  const requests: { topic: string; messages: Message[] }[][] = [];
  let current: { topic: string; messages: Message[] }[] = [];
  let room = size;
  for (const [topic, messages] of byTopic) {
    for (let i = 0; i < messages.length; ) {
      const take = messages.slice(i, i + room);
      current.push({ topic, messages: take });
      i += take.length;
      room -= take.length;
      if (room === 0) {
        requests.push(current);
        current = [];
        room = size;
      }
    }
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * The worker's Kafka source: one consumer (read_committed, no offset commits: offsets live in
 * Eddy's task state) that reads exactly the partitions of the tasks this worker runs. Every
 * partition starts paused; `open(task, offsets)` seeks the task's partitions and resumes them,
 * `close(task)` pauses them again. `throttle` / `unthrottle` pause a task's partitions for
 * backpressure without changing ownership. Records go to `onRecords`, grouped per task.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../common/logger.ts';
import { allPartitionsAssigner } from './all-partitions-assigner.ts';
import type { SourceRecord, TaskOffsets } from './thread-protocol.ts';

export interface KafkaSourceOptions {
  kafka: Kafka;
  /** The worker's connected admin client (earliest offsets of new tasks). */
  admin: Admin;
  groupId: string;
  topics: string[];
  /** Longest a fetch waits for data (kafkajs' default 5 s would be the latency floor). */
  maxWaitTimeMs: number;
  /** A fetch waits (up to maxWaitTimeMs) until this many bytes are ready. */
  minBytes: number;
  onRecords(task: number, records: SourceRecord[]): void;
  /**
   * Consumer lag of a task's partition after each fetched batch: high watermark minus the next
   * offset to fetch (records). Not called while the partition is paused, nor for empty fetches.
   */
  onLag?(task: number, topic: string, lagRecords: number): void;
  logger: Logger;
}

export class KafkaSource {
  private readonly consumer: Consumer;
  private readonly owned = new Set<number>();
  private readonly throttled = new Set<number>();

  constructor(private readonly options: KafkaSourceOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: [allPartitionsAssigner],
      readUncommitted: false,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      minBytes: options.minBytes,
      sessionTimeout: 30_000,
      rebalanceTimeout: 30_000,
      retry: { retries: 10 },
    });
  }

  /** Connects, joins the private group and pauses everything; resolves once seeks are possible. */
  async start(): Promise<void> {
    await this.consumer.connect();
    for (const topic of this.options.topics) await this.consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise<Record<string, number[]>>((resolve) => {
      const remove = this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
        remove();
        resolve(event.payload.memberAssignment);
      });
    });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: (payload) => this.deliver(payload) });
    // Pause partition by partition: kafkajs forgets a whole-topic pause as soon as a single
    // partition of that topic is paused or resumed.
    const assignment = await joined;
    this.consumer.pause(Object.entries(assignment).map(([topic, partitions]) => ({ topic, partitions })));
  }

  /** Starts reading the task's partitions at `offsets` (earliest where a topic has none). */
  async open(task: number, offsets: TaskOffsets): Promise<void> {
    for (const topic of this.options.topics) {
      let offset = offsets[topic];
      if (offset === undefined) {
        const low = (await this.options.admin.fetchTopicOffsets(topic)).find((p) => p.partition === task)?.low;
        offset = low ?? '0';
      }
      this.consumer.seek({ topic, partition: task, offset });
    }
    this.owned.add(task);
    this.apply(task);
  }

  /** Stops reading the task's partitions. */
  close(task: number): void {
    this.owned.delete(task);
    this.throttled.delete(task);
    this.apply(task);
  }

  throttle(task: number): void {
    if (this.throttled.has(task)) return;
    this.throttled.add(task);
    this.apply(task);
  }

  unthrottle(task: number): void {
    if (!this.throttled.delete(task)) return;
    this.apply(task);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }

  private apply(task: number): void {
    const partitions = this.options.topics.map((topic) => ({ topic, partitions: [task] }));
    if (this.owned.has(task) && !this.throttled.has(task)) this.consumer.resume(partitions);
    else this.consumer.pause(partitions);
  }

  private deliver({ batch }: EachBatchPayload): Promise<void> {
    const task = batch.partition;
    if (!this.owned.has(task)) return Promise.resolve();
    this.options.onLag?.(task, batch.topic, Math.max(0, Number(batch.offsetLag())));
    if (batch.messages.length === 0) return Promise.resolve();
    const records: SourceRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: task,
      offset: m.offset,
      timestamp: Number(m.timestamp),
      key: m.key,
      value: m.value,
      headers: headersOf(m.headers),
    }));
    this.options.onRecords(task, records);
    return Promise.resolve();
  }
}

function headersOf(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = (Array.isArray(value) ? value[value.length - 1] : value)?.toString() ?? '';
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The worker's Kafka source: one consumer (read_committed, no offset commits: offsets live in
 * Eddy's task state) that reads exactly the partitions of the tasks this worker runs. Every
 * partition starts paused; `open(task, offsets)` seeks the task's partitions and resumes them,
 * `close(task)` pauses them again. `throttle` / `unthrottle` pause a task's partitions for
 * backpressure without changing ownership. Records go to `onRecords`, grouped per task.
 *
 * kafkajs restarts a consumer that crashed (a broker that went away, a lost connection) with a
 * new group membership that has forgotten every pause and seek. So the source keeps the truth
 * itself (owned and throttled tasks, and the next offset of each owned partition) and applies
 * it again on every group join; while the consumer is between memberships, pauses and seeks
 * wait for the next join instead of failing. Every crash is restarted: a source that stopped
 * for good would leave its tasks silently behind.
 */
import kafkajs, { type Admin, type Consumer, type EachBatchPayload, type Kafka } from 'kafkajs';
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
  /** Next offset to read per topic of each owned task: where a new group membership resumes. */
  private readonly next = new Map<number, Map<string, string>>();
  private joined = false;

  constructor(private readonly options: KafkaSourceOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: [allPartitionsAssigner],
      readUncommitted: false,
      maxWaitTimeInMs: options.maxWaitTimeMs,
      minBytes: options.minBytes,
      sessionTimeout: 30_000,
      rebalanceTimeout: 30_000,
      retry: {
        retries: 10,
        restartOnFailure: (err) => {
          options.logger.warn({ err: err.message }, 'the Kafka consumer crashed; restarting it and resuming every task where it was');
          return Promise.resolve(true);
        },
      },
    });
  }

  /** Connects, joins the private group and pauses everything; resolves once seeks are possible. */
  async start(): Promise<void> {
    await this.consumer.connect();
    for (const topic of this.options.topics) await this.consumer.subscribe({ topic, fromBeginning: true });
    const firstJoin = new Promise<void>((resolve) => {
      this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
        this.rejoined(event.payload.memberAssignment);
        resolve();
      });
    });
    this.consumer.on(this.consumer.events.CRASH, () => {
      this.joined = false;
    });
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: (payload) => this.deliver(payload) });
    await firstJoin;
  }

  /** Starts reading the task's partitions at `offsets` (earliest where a topic has none). */
  async open(task: number, offsets: TaskOffsets): Promise<void> {
    const next = new Map<string, string>();
    const earliest = this.options.topics.some((topic) => offsets[topic] === undefined) ? await this.earliestOffsets(task) : {};
    for (const topic of this.options.topics) next.set(topic, offsets[topic] ?? earliest[topic] ?? '0');
    this.next.set(task, next);
    this.owned.add(task);
    this.apply(task, true);
  }

  /** Where the task's partitions start now (their log start offsets): where a fresh task reads from. */
  async earliestOffsets(task: number): Promise<TaskOffsets> {
    const earliest: TaskOffsets = {};
    for (const topic of this.options.topics) earliest[topic] = (await this.options.admin.fetchTopicOffsets(topic)).find((p) => p.partition === task)?.low ?? '0';
    return earliest;
  }

  /** The task's input topics whose cleanup policy compacts (their log start says nothing about what was deleted). */
  async compactedTopics(): Promise<string[]> {
    const { resources } = await this.options.admin.describeConfigs({
      includeSynonyms: false,
      resources: this.options.topics.map((name) => ({ type: kafkajs.ConfigResourceTypes.TOPIC, name, configNames: ['cleanup.policy'] })),
    });
    return resources.filter((r) => r.configEntries.some((e) => e.configName === 'cleanup.policy' && e.configValue.includes('compact'))).map((r) => r.resourceName);
  }

  /** Stops reading the task's partitions. */
  close(task: number): void {
    this.owned.delete(task);
    this.throttled.delete(task);
    this.next.delete(task);
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

  /** A new group membership (the first, or after a crash): pause everything, then resume the owned tasks where they were. */
  private rejoined(assignment: Record<string, number[]>): void {
    this.joined = true;
    // Partition by partition: kafkajs forgets a whole-topic pause as soon as a single
    // partition of that topic is paused or resumed.
    this.consumer.pause(Object.entries(assignment).map(([topic, partitions]) => ({ topic, partitions })));
    for (const task of this.owned) this.apply(task, true);
  }

  private apply(task: number, seek = false): void {
    if (!this.joined) return; // the next join applies it
    const partitions = this.options.topics.map((topic) => ({ topic, partitions: [task] }));
    try {
      if (seek) for (const [topic, offset] of this.next.get(task) ?? []) this.consumer.seek({ topic, partition: task, offset });
      if (this.owned.has(task) && !this.throttled.has(task)) this.consumer.resume(partitions);
      else this.consumer.pause(partitions);
    } catch (err) {
      // Between a crash and kafkajs' restart there is no group; the next join applies the state.
      this.joined = false;
      this.options.logger.debug({ task, err: (err as Error).message }, 'consumer between memberships; pause state applied on the next join');
    }
  }

  private deliver({ batch }: EachBatchPayload): Promise<void> {
    const task = batch.partition;
    if (!this.owned.has(task)) return Promise.resolve();
    this.options.onLag?.(task, batch.topic, Math.max(0, Number(batch.offsetLag())));
    if (batch.messages.length === 0) return Promise.resolve();
    this.next.get(task)?.set(batch.topic, (BigInt(batch.lastOffset()) + 1n).toString());
    const bytes = compactBytes(batch.messages);
    const records: SourceRecord[] = batch.messages.map((m, i) => ({
      topic: batch.topic,
      partition: task,
      offset: m.offset,
      timestamp: Number(m.timestamp),
      key: bytes.keys[i] ?? null,
      value: bytes.values[i] ?? null,
      headers: headersOf(m.headers),
    }));
    this.options.onRecords(task, records);
    return Promise.resolve();
  }
}

/**
 * The batch's keys and values copied into one array of exactly their size, as views on it.
 * kafkajs decodes keys and values as views on the buffer of the whole fetch response, and posting
 * a view to an actor thread copies the entire buffer behind it: each task's batch would carry the
 * bytes of every partition in that response, and the thread would allocate them again.
 */
export function compactBytes(messages: readonly { key: Buffer | null; value: Buffer | null }[]): { keys: (Uint8Array | null)[]; values: (Uint8Array | null)[] } {
  let size = 0;
  for (const m of messages) size += (m.key?.length ?? 0) + (m.value?.length ?? 0);
  const all = new Uint8Array(size);
  let at = 0;
  const copy = (bytes: Buffer | null): Uint8Array | null => {
    if (bytes === null) return null;
    all.set(bytes, at);
    at += bytes.length;
    return all.subarray(at - bytes.length, at);
  };
  const keys: (Uint8Array | null)[] = [];
  const values: (Uint8Array | null)[] = [];
  for (const m of messages) {
    keys.push(copy(m.key));
    values.push(copy(m.value));
  }
  return { keys, values };
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

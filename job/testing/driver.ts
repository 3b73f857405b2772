/**
 * The job test driver, as Kafka Streams' TopologyTestDriver: runs a job in-process, without
 * Kafka, on records you give it, and shows every output. It runs the worker's real task runtime
 * (actors, timers, watermarks, LevelDB state, barrier snapshots, the exactly-once output buffer)
 * for every task of the job, and stands in for Kafka with in-memory logs:
 *
 * - a record sent to a source goes to the partition Kafka's default partitioner would pick for
 *   its key (murmur2, as the Java producer and Debezium's Kafka Connect use);
 * - exactly-once outputs appear when a checkpoint publishes them, as on the cluster;
 *   repartition outputs are appended to their internal topic and read by the task they hash to;
 * - {@link JobTestDriver.crash} drops every task's memory and what it did since the last
 *   checkpoint, restores the tasks from that checkpoint's snapshots and reads on from its offsets,
 *   so a test can show that a crash between any two records leaves the results unchanged.
 *
 * ```ts
 * const driver = await JobTestDriver.start(job, { partitions: 4 });
 * driver.send('orders', { key: '{"order_id":1}', value: change });
 * await driver.run();
 * expect(driver.table('revenue').get('2025-01-01T00:00:00.000Z')).toEqual({ ... });
 * await driver.close();
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import { createTaskStore, restoreTaskStore, type SnapshotLink } from '../../state/task-store-open.ts';
import { watermarkMarkerHeaders } from '../../worker/runtime/call-context.ts';
import { TaskRuntime, type ProcessResult } from '../../worker/runtime/task-runtime.ts';
import type { JobDefinition, KafkaSink } from '../contract/job.ts';
import type { DeadLetter, OutputRecord, SourceRecord } from '../contract/records.ts';

/** Options of {@link JobTestDriver.start}. */
export interface DriverOptions {
  /** Partitions of every source topic, i.e. the job's tasks. Default 4. */
  partitions?: number;
  /** Processing time to start at, ms since the epoch. Default 0. */
  startTimeMs?: number;
  /** Where task state and snapshots go; default a new temporary directory, removed by `close()`. */
  dir?: string;
}

/** A record to send. */
export interface TestRecord {
  /** A string (UTF-8), bytes, or null. */
  key: string | Uint8Array | null;
  /** An object (sent as JSON), a string (UTF-8), bytes, or null (a tombstone). */
  value: unknown;
  /** Kafka timestamp, ms since the epoch; default the driver's processing time. */
  timestamp?: number;
  /** The partition; default the one Kafka's default partitioner picks for the key (0 without a key). */
  partition?: number;
  headers?: Record<string, string>;
}

/** A published output. */
export interface TestOutput {
  key: string | null;
  /** The value as written: a string (JSON for objects), or null for a tombstone. */
  value: string | null;
  timestamp?: number;
  /** Headers, e.g. `eddy.event.time`: the event time it was emitted at. */
  headers?: Record<string, string>;
  /** The task that emitted it. */
  task: number;
}

type Task = { runtime: TaskRuntime; chain?: SnapshotLink[] };

export class JobTestDriver {
  private readonly logs = new Map<string, SourceRecord[][]>();
  /** Arrival order of every record, to interleave a task's topics as they were sent. */
  private readonly arrival = new Map<SourceRecord, number>();
  private arrivals = 0;
  private readonly published = new Map<string, TestOutput[]>();
  private readonly letters: DeadLetter[] = [];
  private readonly counts = new Map<string, number>();
  private lastCheckpoint = 0;
  private closed = false;

  private constructor(
    readonly job: JobDefinition,
    readonly partitions: number,
    private readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly tasks: Task[],
    private nowMs: number,
  ) {
    for (const source of Object.values(job.sources)) this.logs.set(source.topic, Array.from({ length: partitions }, () => []));
  }

  /** Opens every task of `job` with empty state. */
  static async start(job: JobDefinition, options: DriverOptions = {}): Promise<JobTestDriver> {
    const partitions = options.partitions ?? 4;
    if (!Number.isSafeInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be an integer ≥ 1, got ${partitions}`);
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `eddy-driver-${job.name}-`)));
    const tasks: Task[] = [];
    for (let task = 0; task < partitions; task++) {
      tasks.push({ runtime: await TaskRuntime.open(job, task, await createTaskStore(join(dir, `task-${task}`)), { taskCount: partitions }) });
    }
    return new JobTestDriver(job, partitions, dir, options.dir === undefined, tasks, options.startTimeMs ?? 0);
  }

  /** The driver's processing time, ms since the epoch. */
  get now(): number {
    return this.nowMs;
  }

  /** The last checkpoint taken (0: none). */
  get checkpointId(): number {
    return this.lastCheckpoint;
  }

  /**
   * Appends records to a source's topic. Nothing is processed until {@link run} or {@link step}.
   * @param source a source name of the job (not a repartition)
   */
  send(source: string, records: TestRecord | readonly TestRecord[]): void {
    const definition = this.job.sources[source];
    if (definition === undefined || definition.internal === true) {
      throw new Error(`no source '${source}' in job '${this.job.name}' (sources: ${this.externalSources().join(', ')})`);
    }
    for (const record of Array.isArray(records) ? (records as TestRecord[]) : [records as TestRecord]) {
      const key = record.key === null ? null : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
      this.append(definition.topic, {
        key,
        value: encodeValue(record.value),
        timestamp: record.timestamp ?? this.nowMs,
        partition: record.partition ?? partitionFor(definition.topic, key, this.partitions),
        headers: record.headers,
      });
    }
  }

  /**
   * Processes every record sent so far, then checkpoints, which publishes the outputs; repeats
   * while repartition topics have records to read, so when it returns the job is quiet.
   */
  async run(): Promise<void> {
    for (let round = 0; ; round++) {
      for (const task of this.tasks.keys()) await this.drain(task);
      await this.checkpoint();
      if (!this.hasPending()) return;
      if (round > 10_000) throw new Error('the job keeps feeding its repartition topics; does it emit in a loop?');
    }
  }

  /** Processes the one record sent earliest that no task has read yet; false when there is none. Does not checkpoint. */
  async step(): Promise<boolean> {
    let best: { task: number; record: SourceRecord; order: number } | undefined;
    for (const task of this.tasks.keys()) {
      const record = this.nextRecord(task);
      const order = record === undefined ? Infinity : (this.arrival.get(record) as number);
      if (record !== undefined && (best === undefined || order < best.order)) best = { task, record, order };
    }
    if (best === undefined) return false;
    this.collect(best.task, await this.runtime(best.task).process([best.record], this.nowMs));
    return true;
  }

  /** Moves processing time on by `ms` and fires what became due (processing-time timers, idle-source watermarks). */
  async advanceTime(ms: number): Promise<void> {
    this.nowMs += ms;
    for (const task of this.tasks.keys()) this.collect(task, await this.runtime(task).tick(this.nowMs));
  }

  /**
   * Takes a checkpoint of every task (barrier, snapshot) and publishes the exactly-once outputs
   * and dead letters it covers, as a completed checkpoint does on the cluster.
   * @returns the checkpoint's id
   */
  async checkpoint(): Promise<number> {
    const id = this.lastCheckpoint + 1;
    for (const [task, state] of this.tasks.entries()) {
      const target = { root: join(this.dir, 'checkpoints'), ref: join(`chk-${id}`, `task-${task}.snap`) };
      const { snapshot } = await state.runtime.barrier(id, target);
      const result = await snapshot;
      if (result.type !== 'snapshot-written') throw new Error(`task ${task}: snapshot of checkpoint ${id} failed: ${result.reason}`);
      state.chain = result.chain;
    }
    this.lastCheckpoint = id;
    for (const [task, { runtime }] of this.tasks.entries()) {
      for (const item of runtime.committedOutputs(id)) {
        if ('deadLetter' in item) this.letters.push(item.deadLetter);
        else this.publish(task, item.output);
      }
      for (const [sink, watermarkMs] of Object.entries(runtime.progress(id))) {
        // A watermark marker on every partition, after the checkpoint's records (as a worker publishes it).
        const topic = (this.job.sinks[sink] as KafkaSink).topic; // repartition sinks are Kafka
        const headers = watermarkMarkerHeaders(task, watermarkMs);
        for (let partition = 0; partition < this.partitions; partition++) this.append(topic, { key: null, value: null, timestamp: this.nowMs, partition, headers });
      }
      runtime.outputsPublished(id);
    }
    return id;
  }

  /**
   * A crash of every task: their memory and everything since the last checkpoint are lost
   * (outputs not yet published included), and they are restored from that checkpoint (or start
   * empty when there is none), reading on from its offsets.
   */
  async crash(): Promise<void> {
    for (const [task, state] of this.tasks.entries()) {
      await state.runtime.close();
      const dir = join(this.dir, `task-${task}`);
      const chain = state.chain;
      const store = chain === undefined ? await createTaskStore(dir) : await restoreTaskStore(dir, { task, root: join(this.dir, 'checkpoints'), chain });
      state.runtime = await TaskRuntime.open(this.job, task, store, { restoredFrom: chain === undefined ? 0 : this.lastCheckpoint, restoredChain: chain ?? [], taskCount: this.partitions });
      // The snapshot holds the outputs its checkpoint published; a worker learns that from the
      // task's commit marker and drops them, and so does the driver.
      if (chain !== undefined) state.runtime.outputsPublished(this.lastCheckpoint);
    }
  }

  /** Every published output of a sink (or repartition), in publication order. */
  outputs(sink: string): TestOutput[] {
    if (this.job.sinks[sink] === undefined) throw new Error(`no sink '${sink}' in job '${this.job.name}' (sinks: ${Object.keys(this.job.sinks).join(', ')})`);
    return [...(this.published.get(sink) ?? [])];
  }

  /** A sink read as an upsert table: the latest JSON value per key; a tombstone removes the key. */
  table<T = unknown>(sink: string): Map<string, T> {
    const table = new Map<string, T>();
    for (const { key, value } of this.outputs(sink)) {
      if (key === null) continue;
      if (value === null) table.delete(key);
      else table.set(key, JSON.parse(value) as T);
    }
    return table;
  }

  /** The JSON values of a sink's outputs, in order. */
  values<T = unknown>(sink: string): T[] {
    return this.outputs(sink).map(({ value }) => (value === null ? null : JSON.parse(value)) as T);
  }

  /** The job's counters (`ctx.count`, `invalid.<source>`, `failed.<actor>`), summed over every task and request. */
  counters(): Map<string, number> {
    return new Map(this.counts);
  }

  /** Every published dead letter. */
  deadLetters(): DeadLetter[] {
    return [...this.letters];
  }

  /** Closes every task and removes the driver's own directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { runtime } of this.tasks) await runtime.close();
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  private externalSources(): string[] {
    return Object.entries(this.job.sources).flatMap(([name, s]) => (s.internal === true ? [] : [name]));
  }

  private append(topic: string, record: Omit<SourceRecord, 'topic' | 'offset'>): void {
    const partition = this.logs.get(topic)?.[record.partition];
    if (partition === undefined) throw new RangeError(`partition ${record.partition} of '${topic}' does not exist (partitions: ${this.partitions})`);
    const full: SourceRecord = { topic, offset: String(partition.length), ...record };
    if (full.headers === undefined) delete full.headers;
    partition.push(full);
    this.arrival.set(full, this.arrivals++);
  }

  private publish(task: number, output: OutputRecord): void {
    const list = this.published.get(output.sink) ?? [];
    this.published.set(output.sink, list);
    const published: TestOutput = { key: output.key, value: output.value, task };
    if (output.timestamp !== undefined) published.timestamp = output.timestamp;
    if (output.headers !== undefined) published.headers = output.headers;
    list.push(published);
    const sink = this.job.sinks[output.sink];
    if (sink?.kind === 'kafka' && sink.internal === true) {
      const key = output.key === null ? null : Buffer.from(output.key);
      this.append(sink.topic, { key, value: output.value === null ? null : Buffer.from(output.value), timestamp: output.timestamp ?? this.nowMs, partition: output.partition ?? partitionFor(sink.topic, key, this.partitions), headers: output.headers });
    }
  }

  private collect(task: number, result: ProcessResult): void {
    for (const output of result.outputs) this.publish(task, output);
    for (const [name, by] of Object.entries(result.counts)) this.counts.set(name, (this.counts.get(name) ?? 0) + by);
  }

  private async drain(task: number): Promise<void> {
    for (let record = this.nextRecord(task); record !== undefined; record = this.nextRecord(task)) {
      this.collect(task, await this.runtime(task).process([record], this.nowMs));
    }
  }

  /** The task's next unread record, from whichever of its topics got it first. */
  private nextRecord(task: number): SourceRecord | undefined {
    const offsets = this.runtime(task).offsets();
    let best: SourceRecord | undefined;
    for (const [topic, partitions] of this.logs) {
      const next = (partitions[task] as SourceRecord[])[Number(offsets[topic] ?? 0)];
      if (next !== undefined && (best === undefined || (this.arrival.get(next) as number) < (this.arrival.get(best) as number))) best = next;
    }
    return best;
  }

  private hasPending(): boolean {
    return [...this.tasks.keys()].some((task) => this.nextRecord(task) !== undefined);
  }

  private runtime(task: number): TaskRuntime {
    return (this.tasks[task] as Task).runtime;
  }
}

const defaultPartitioner = Partitioners.DefaultPartitioner();

/** The partition Kafka's default partitioner gives a key: murmur2 of its bytes (0 for no key, where Kafka would spread). */
export function partitionFor(topic: string, key: Buffer | Uint8Array | null, partitions: number): number {
  if (key === null) return 0;
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  return defaultPartitioner({ topic, partitionMetadata, message: { key: Buffer.from(key), value: null } });
}

function encodeValue(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) return value;
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}

/**
 * Reads the newest committed marker record of one task from the job's commits topic
 * (read_committed). Called after the task's transactional id was fenced, so no transaction of
 * that task is open and the partition's last stable offset is its end: the read starts a little
 * before the end and is done once the consumer's position reaches the last offset, whether the
 * tail holds data records or only transaction markers and aborted records (kafkajs reports those
 * batches as processed-but-empty, which counts as reaching them; see partition-range-reader.ts).
 */
import type { Admin, Kafka } from 'kafkajs';
import { readCommittedRange } from './partition-range-reader.ts';

/** Offsets before the end where reading starts; a marker costs 2 (record + commit marker). */
const tailOffsets = 64;
const readTimeoutMs = 10_000;

/** A marker record: task `task` published the outputs of checkpoints up to `checkpointId`, from checkpoint store `store`. */
export interface Marker {
  checkpointId: number;
  /** The id of the checkpoint store whose checkpoint this is; absent in markers of Eddy before stores had ids. */
  store: string | undefined;
}

export async function readLastMarker(kafka: Kafka, admin: Admin, topic: string, task: number): Promise<Marker | undefined> {
  const partition = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === task);
  const high = Number(partition?.high ?? 0);
  const low = Number(partition?.low ?? 0);
  if (high <= low) return undefined;
  const tail = await readFrom(kafka, admin, topic, task, Math.max(low, high - tailOffsets), high);
  if (tail !== undefined || high - tailOffsets <= low) return tail;
  // Only transaction markers or aborted records near the end: read the whole (compacted) partition.
  return readFrom(kafka, admin, topic, task, low, high);
}

/** The last data record in [start, high), or undefined if there is none. */
async function readFrom(kafka: Kafka, admin: Admin, topic: string, task: number, start: number, high: number): Promise<Marker | undefined> {
  let last: { offset: number; marker: Marker } | undefined;
  const reached = await readCommittedRange(kafka, admin, { topic, partition: task, start, high, timeoutMs: readTimeoutMs }, (message) => {
    const offset = Number(message.offset);
    if (last === undefined || offset > last.offset) last = { offset, marker: parseMarker(message.value) };
    return false;
  });
  if (!reached) throw new Error(`reading the commit markers of task ${task} in ${topic} did not reach offset ${high - 1} within ${readTimeoutMs} ms`);
  return last?.marker;
}

function parseMarker(value: Buffer | null): Marker {
  const parsed = JSON.parse(value?.toString() ?? '{}') as { checkpointId?: number; store?: string };
  return { checkpointId: parsed.checkpointId ?? 0, store: parsed.store };
}

/**
 * The Kafka messages of one ingest request. Each event gets its partition here, with Kafka's
 * default partitioner (murmur2 of the key, as the Java client and kafkajs compute it; a null
 * key goes round-robin), and the events are ordered by partition, keeping their order within
 * each. Waited-for requests stamp only the last event of each partition's run (see
 * ingest-ref.ts); the indices acks count are positions in this order.
 */
import type { KeyPartitioner } from '../../common/partitioner.ts';
export { keyPartitioner, type KeyPartitioner } from '../../common/partitioner.ts';
import { formatIngestRef, ingestHeader, type WaitFor } from './ingest-ref.ts';

export interface IngestEvent {
  key: string | null;
  value: unknown;
  headers?: Record<string, string>;
}

/** One event as the endpoint writes it: value as text, topic and partition already chosen. */
export interface IngestMessage {
  topic: string;
  /** Absent for a null key. */
  key?: string;
  value: string;
  partition: number;
  headers?: Record<string, string>;
}

/** The request's messages, partition by partition; `stamp` = who waits (absent for wait=none). */
export function ingestMessages(
  topic: string,
  events: readonly IngestEvent[],
  partitionOf: KeyPartitioner,
  stamp?: { node: string; request: string; wait: Exclude<WaitFor, 'none'> },
): IngestMessage[] {
  const placed = events.map((event, index) => ({ event, index, partition: partitionOf(event.key) }));
  placed.sort((a, b) => a.partition - b.partition || a.index - b.index);
  let runStart = 0;
  return placed.map(({ event, partition }, position) => {
    const value = typeof event.value === 'string' ? event.value : JSON.stringify(event.value);
    const message: IngestMessage = { topic, key: event.key ?? undefined, value, partition, headers: ownHeaders(event.headers) };
    if (stamp === undefined) return message;
    if (placed[position + 1]?.partition !== partition) {
      const ref = formatIngestRef({ ...stamp, first: runStart, last: position });
      message.headers = { ...message.headers, [ingestHeader]: ref };
      runStart = position + 1;
    }
    return message;
  });
}

/** The caller's headers, without an `eddy.ingest` of its own (only the endpoint stamps that). */
function ownHeaders(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined || !(ingestHeader in headers)) return headers;
  const { [ingestHeader]: _dropped, ...rest } = headers;
  return rest;
}

/**
 * How an ingested event finds its way back to the HTTP request waiting for it: the ingest
 * endpoint stamps each event with the Kafka header `eddy.ingest` = `<node>|<request>|<index>|<wait>`;
 * the task that handles the event sends an ack for (request, index) to `eddy.ack.<node>` on NATS.
 */
import type { SourceRecord } from '../thread-protocol.ts';

export const ingestHeader = 'eddy.ingest';

export type WaitFor = 'none' | 'processed' | 'committed';

export interface IngestRef {
  node: string;
  request: string;
  index: number;
  wait: WaitFor;
}

export function formatIngestRef(ref: IngestRef): string {
  return `${ref.node}|${ref.request}|${ref.index}|${ref.wait}`;
}

/** The reference a record carries, or undefined (not ingested, or not waited for). */
export function ingestRefOf(record: SourceRecord): IngestRef | undefined {
  const value = record.headers?.[ingestHeader];
  if (value === undefined) return undefined;
  const [node, request, index, wait] = value.split('|');
  if (node === undefined || request === undefined || index === undefined || (wait !== 'processed' && wait !== 'committed')) return undefined;
  return { node, request, index: Number(index), wait };
}

/** NATS subject on which `node` receives acks. */
export function ackSubject(node: string): string {
  return `eddy.ack.${node}`;
}

/** One NATS message: acks for several requests of one node. */
export type AckBatch = { r: string; i: number[] }[];

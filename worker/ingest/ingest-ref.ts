/**
 * How ingested events find their way back to the HTTP request waiting for them. The ingest
 * endpoint orders a request's events by partition (keeping the order within each) and stamps
 * only the LAST event of each partition's run with the Kafka header
 * `eddy.ingest` = `<node>|<request>|<first>-<last>|<wait>`: the run is events first..last of
 * the request, in one record batch, so one task handles them in offset order and handling the
 * last means handling them all. That task sends an ack for (request, first..last) to
 * `eddy.ack.<node>` on NATS. (A header on every event made producing cost half as much again.)
 */
import type { SourceRecord } from '../thread-protocol.ts';

export const ingestHeader = 'eddy.ingest';

export type WaitFor = 'none' | 'processed' | 'committed';

export interface IngestRef {
  node: string;
  request: string;
  /** The run of the request's events this ref acknowledges, both ends included. */
  first: number;
  last: number;
  wait: WaitFor;
}

export function formatIngestRef(ref: IngestRef): string {
  return `${ref.node}|${ref.request}|${ref.first}-${ref.last}|${ref.wait}`;
}

/** The reference a record carries, or undefined (not ingested, not waited for, or malformed). */
export function ingestRefOf(record: SourceRecord): IngestRef | undefined {
  const value = record.headers?.[ingestHeader];
  if (value === undefined) return undefined;
  const [node, request, run, wait] = value.split('|');
  if (node === undefined || request === undefined || run === undefined || (wait !== 'processed' && wait !== 'committed')) return undefined;
  const dash = run.indexOf('-');
  const first = Number(run.slice(0, dash));
  const last = Number(run.slice(dash + 1));
  if (dash < 1 || !Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last < first) return undefined;
  return { node, request, first, last, wait };
}

/** NATS subject on which `node` receives acks. */
export function ackSubject(node: string): string {
  return `eddy.ack.${node}`;
}

/** One NATS message: acks for several requests of one node; `i` holds runs as pairs first, last. */
export type AckBatch = { r: string; i: number[] }[];

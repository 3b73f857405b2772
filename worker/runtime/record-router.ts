/**
 * From a Kafka record to what the actors receive: which source it belongs to (by topic), which
 * actors read that source, and the decoded value (or a decode failure, for the dead letters).
 * Routing tables are built once per task from the job definition.
 */
import { BadRecordError, IllegalStateError, ensureError } from '../../common/errors.ts';
import type { JobDefinition, KafkaSource } from '../../job/contract/job.ts';
import type { RecordMeta } from '../../job/contract/context.ts';
import type { SourceRecord } from '../thread-protocol.ts';

/** Where a record goes. */
export type Route = {
  /** The source's name in the job. */
  source: string;
  format: KafkaSource['format'];
  /** Names of the actors reading the source, in definition order. */
  actors: readonly string[];
};

/** A record decoded (`value` null: the format skips it), or why it could not be. */
export type Decoded = { ok: true; value: unknown } | { ok: false; field: string; reason: string };

export class RecordRouter {
  private readonly routes = new Map<string, Route>();

  constructor(
    job: JobDefinition,
    private readonly task: number,
  ) {
    for (const [source, { topic, format }] of Object.entries(job.sources)) {
      const actors = Object.entries(job.actors)
        .filter(([, actor]) => actor.from.includes(source))
        .map(([name]) => name);
      this.routes.set(topic, { source, format, actors });
    }
  }

  /**
   * The route of a record.
   * @throws IllegalStateError when the record is not from one of this task's partitions (a dispatcher bug)
   */
  route(record: SourceRecord): Route {
    const route = this.routes.get(record.topic);
    if (route === undefined) throw new IllegalStateError(`task ${this.task} got a record of topic '${record.topic}', which no source reads`);
    if (record.partition !== this.task) throw new IllegalStateError(`task ${this.task} got a record of ${record.topic}[${record.partition}]`);
    return route;
  }

  /** Decodes with the source's format; a failure is described, never thrown. */
  decode(route: Route, record: SourceRecord): Decoded {
    try {
      return { ok: true, value: route.format.decode(record, describeRecord(record)) };
    } catch (thrown) {
      if (thrown instanceof BadRecordError) return { ok: false, field: thrown.field, reason: thrown.reason };
      return { ok: false, field: '', reason: `format '${route.format.name}' threw: ${ensureError(thrown).message}` };
    }
  }
}

/** `topic[partition]@offset`, the way errors name a record. */
export function describeRecord(record: SourceRecord): string {
  return `${record.topic}[${record.partition}]@${record.offset}`;
}

const lenientUtf8 = new TextDecoder('utf-8');

/** The metadata handlers see. */
export function recordMeta(record: SourceRecord): RecordMeta {
  const { topic, partition, offset, timestamp } = record;
  return { topic, partition, offset, timestamp, key: record.key === null ? null : lenientUtf8.decode(record.key) };
}

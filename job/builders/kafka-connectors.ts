/**
 * `kafkaSource` and `kafkaSink`: descriptions of the topics a job reads and writes. They carry
 * no connection; the worker's main thread consumes and produces, and the coordinator creates
 * missing topics with the partitions given here. Checked by `defineJob`.
 */
import type { Delivery, KafkaSink, KafkaSource, Repartition, SourceFormat } from '../contract/job.ts';
import { json } from './formats.ts';

/** Options of {@link kafkaSource}. */
export interface KafkaSourceOptions<T> {
  /** How records are decoded: `debezium()`, `json()`, `text()` or your own {@link SourceFormat}. */
  format: SourceFormat<T>;
  /** Create the topic with this many partitions when it does not exist. */
  partitions?: number;
  /** What the producer partitions by, for co-partitioning checks (see {@link KafkaSource.partitionedBy}). */
  partitionedBy?: string;
}

/** A Kafka topic to read; its partitions are the job's tasks. */
export function kafkaSource<T>(topic: string, options: KafkaSourceOptions<T>): KafkaSource<T> {
  const source: { -readonly [K in keyof KafkaSource<T>]: KafkaSource<T>[K] } = { kind: 'kafka', topic, format: options.format };
  if (options.partitions !== undefined) source.partitions = options.partitions;
  if (options.partitionedBy !== undefined) source.partitionedBy = options.partitionedBy;
  return Object.freeze(source);
}

/**
 * A re-keying topic (see {@link Repartition}): emit to it by its name in `repartitions`, read it
 * by the same name. Records are JSON; event time travels as the Kafka timestamp.
 *
 * @param key what the records' key is, e.g. `product_id`: repartitions with the same key are co-partitioned
 * @typeParam T the records' value type (not checked at run time)
 */
export function repartition<T>(key: string): Repartition<T> {
  return Object.freeze({ kind: 'repartition', key, format: json<T>() });
}

/**
 * A broadcast topic (see {@link Repartition.broadcast}): emit to it by its name in
 * `repartitions`, and every task's readers get every record. For control records such as a
 * table's truncate; records are JSON.
 */
export function broadcast<T>(): Repartition<T> {
  return Object.freeze({ kind: 'repartition', key: 'broadcast', format: json<T>(), broadcast: true });
}

/** Options of {@link kafkaSink}. */
export interface KafkaSinkOptions {
  /** Default `exactly-once`. */
  delivery?: Delivery;
  /** An upsert stream (see {@link KafkaSink.upsert}): compacted topic, last value per key and checkpoint. */
  upsert?: boolean;
  /** Create the topic with this many partitions when it does not exist. */
  partitions?: number;
}

/** A Kafka topic to write; actors send to it with `ctx.emit(<sink name>, key, value)`. */
export function kafkaSink(topic: string, options: KafkaSinkOptions = {}): KafkaSink {
  const sink: { -readonly [K in keyof KafkaSink]: KafkaSink[K] } = { kind: 'kafka', topic, delivery: options.delivery ?? 'exactly-once' };
  if (options.partitions !== undefined) sink.partitions = options.partitions;
  if (options.upsert === true) sink.upsert = true;
  return Object.freeze(sink);
}

/**
 * `kafkaSource` and `kafkaSink`: descriptions of the topics a job reads and writes. They carry
 * no connection; the worker's main thread consumes and produces, and the coordinator creates
 * missing topics with the partitions given here. Checked by `defineJob`.
 */
import type { Delivery, KafkaSink, KafkaSource, SourceFormat } from '../contract/job.ts';

/** Options of {@link kafkaSource}. */
export interface KafkaSourceOptions<T> {
  /** How records are decoded: `debezium()`, `json()`, `text()` or your own {@link SourceFormat}. */
  format: SourceFormat<T>;
  /** Create the topic with this many partitions when it does not exist. */
  partitions?: number;
}

/** A Kafka topic to read; its partitions are the job's tasks. */
export function kafkaSource<T>(topic: string, options: KafkaSourceOptions<T>): KafkaSource<T> {
  const source: KafkaSource<T> = { kind: 'kafka', topic, format: options.format };
  return Object.freeze(options.partitions === undefined ? source : { ...source, partitions: options.partitions });
}

/** Options of {@link kafkaSink}. */
export interface KafkaSinkOptions {
  /** Default `exactly-once`. */
  delivery?: Delivery;
  /** Create the topic with this many partitions when it does not exist. */
  partitions?: number;
}

/** A Kafka topic to write; actors send to it with `ctx.emit(<sink name>, key, value)`. */
export function kafkaSink(topic: string, options: KafkaSinkOptions = {}): KafkaSink {
  const sink: KafkaSink = { kind: 'kafka', topic, delivery: options.delivery ?? 'exactly-once' };
  return Object.freeze(options.partitions === undefined ? sink : { ...sink, partitions: options.partitions });
}

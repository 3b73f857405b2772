/**
 * Kafka's default partitioner as a function of the key alone: murmur2 of the UTF-8 key, as the
 * Java client, kafkajs and Debezium's Kafka Connect compute it (a null key goes round-robin).
 * The ingest endpoint places events with it, and a rescale moves each key's state to the task
 * it gives the key under the new partition count.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';

/** Picks an event's partition from its key, as Kafka's default partitioner does. */
export type KeyPartitioner = (key: string | Buffer | null) => number;

export function keyPartitioner(topic: string, partitionCount: number): KeyPartitioner {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitionCount }, (_, partitionId) => ({
    partitionErrorCode: 0, partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [],
  }));
  return (key) => partitioner({ topic, partitionMetadata, message: { key, value: null } });
}


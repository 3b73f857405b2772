/**
 * Where a worker's at-least-once outputs go: one idempotent producer (acks=all, one request in
 * flight, so a task's outputs keep their order), publishing as soon as an actor emits. After a
 * crash, outputs since the task's last checkpoint are produced again. Exactly-once outputs and
 * dead letters go through TaskTransactions instead. NATS and HTTP sinks, at-least-once too, go
 * out through {@link NotifySinks} from here.
 */
import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import type { JobDefinition } from '../job/contract/job.ts';
import type { AtLeastOnceSink } from '../job/contract/sink.ts';
import type { DeadLetter, OutputRecord } from './thread-protocol.ts';
import type { Logger } from '../common/logger.ts';
import { deadLetterTopic } from '../job/topics.ts';
import { NotifySinks } from './notify-sinks.ts';

export class KafkaSinks implements AtLeastOnceSink {
  private readonly producer: Producer;
  private readonly notify: NotifySinks;

  constructor(kafka: Kafka, private readonly job: JobDefinition, natsUrl: string, logger: Logger) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.notify = new NotifySinks(job, natsUrl, logger);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.notify.start();
  }

  async stop(): Promise<void> {
    await this.notify.stop();
    await this.producer.disconnect();
  }

  /**
   * Publishes outputs (Kafka topics, and NATS subjects and HTTP endpoints through
   * {@link NotifySinks}); resolves once all of them are acknowledged. Outputs an HTTP endpoint
   * refused for good go to the dead-letter topic, at-least-once like the outputs.
   */
  async publish(outputs: readonly OutputRecord[]): Promise<void> {
    if (outputs.length === 0) return;
    const byTopic = new MessagesByTopic();
    const notifications: OutputRecord[] = [];
    for (const o of outputs) {
      if (this.notify.names.has(o.sink)) notifications.push(o);
      else byTopic.add(sinkTopic(this.job, o.sink), outputMessage(o));
    }
    if (notifications.length > 0) {
      for (const letter of await this.notify.publish(notifications)) byTopic.add(deadLetterTopic(this.job), deadLetterMessage(letter));
    }
    if (byTopic.byTopic.size > 0) await this.producer.sendBatch({ acks: -1, topicMessages: byTopic.topicMessages() });
  }
}

/** Messages grouped by topic, in the order added (per topic). */
export class MessagesByTopic {
  readonly byTopic = new Map<string, Message[]>();

  add(topic: string, message: Message): void {
    const list = this.byTopic.get(topic);
    if (list === undefined) this.byTopic.set(topic, [message]);
    else list.push(message);
  }

  topicMessages(): { topic: string; messages: Message[] }[] {
    return [...this.byTopic].map(([topic, messages]) => ({ topic, messages }));
  }
}

/** The topic of a sink the runtime already checked exists. */
export function sinkTopic(job: JobDefinition, sink: string): string {
  const target = job.sinks[sink];
  const topic = target?.kind === 'kafka' ? target.topic : undefined;
  if (topic === undefined) throw new Error(`output to unknown sink '${sink}' (a bug: the runtime checks sink names)`);
  return topic;
}

export function outputMessage(o: OutputRecord): Message {
  const message: Message = { key: o.key, value: o.value, headers: o.headers };
  if (o.timestamp !== undefined) message.timestamp = String(o.timestamp);
  if (o.partition !== undefined) message.partition = o.partition;
  return message;
}

/** The original record's bytes and headers, plus why it is here. */
export function deadLetterMessage(d: DeadLetter): Message {
  const s = d.source;
  const headers: IHeaders = {
    ...s.headers,
    'eddy.dlq.reason': d.reason,
    'eddy.dlq.field': d.field,
    'eddy.dlq.source': `${s.topic}[${s.partition}]@${s.offset}`,
    'eddy.dlq.source.timestamp': String(s.timestamp),
  };
  if (d.actor !== undefined) headers['eddy.dlq.actor'] = d.actor;
  return {
    key: s.key === null ? null : Buffer.from(s.key),
    value: s.value === null ? null : Buffer.from(s.value),
    headers,
  };
}

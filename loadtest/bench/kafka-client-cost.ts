/**
 * `npx tsx loadtest/bench/kafka-client-cost.ts`: how much CPU the Kafka clients themselves
 * spend per record on this machine, the floor under every Eddy figure (each ingested event is
 * produced, consumed, and its output produced again). Produces batches of 100 small JSON
 * records to a fresh 12-partition topic with kafkajs (with and without one header per record)
 * and with the ingest endpoint's producer (@platformatic/kafka, worker/ingest/ingest-producer.ts),
 * then consumes them all with kafkajs; then, as the exactly-once sinks publish, transactions of
 * 5,000 records (requests of 500) with kafkajs and with @platformatic/kafka's transactional
 * producer, CPU per record and wall time per transaction; prints CPU µs per record for each, measured with
 * process.cpuUsage (this process only: the broker's work is not in it). Needs the local stack
 * (`eddy stack up`) or EDDY_KAFKA_BROKERS. Deletes its topic at the end.
 */
import { Producer as PlatformaticProducer, stringSerializers } from '@platformatic/kafka';
import { Command } from 'commander';
import type { Kafka } from 'kafkajs';
import { integerOption } from '../../bin/options.ts';
import { kafkaBrokers, loadConfig } from '../../common/config.ts';
import { createKafka, createTopicsReady } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import { IngestProducer } from '../../worker/ingest/ingest-producer.ts';

const command = new Command('kafka-client-cost')
  .description('CPU per record of kafkajs and the ingest producer producing, and of kafkajs consuming')
  .option('--requests <n>', 'produce requests of 100 records per round', integerOption('--requests', 1), 300)
  .option('--rounds <n>', 'rounds of each kind (the first warms the JIT)', integerOption('--rounds', 1), 3)
  .action(async ({ requests, rounds }: { requests: number; rounds: number }) => {
    const logger = createLogger('kafka-client-cost', 'warn');
    const brokers = kafkaBrokers(loadConfig());
    const kafka = createKafka(brokers, 'eddy-kafka-client-cost', logger);
    const admin = kafka.admin();
    await admin.connect();
    const topic = `eddy.kafka-client-cost.${Date.now()}`;
    await createTopicsReady(admin, [{ topic, numPartitions: 12, replicationFactor: -1 }]);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const ingest = new IngestProducer(brokers, 'eddy-kafka-client-cost-ingest');
    await ingest.connect();
    let produced = 0;
    const records = (headers: boolean) => Array.from({ length: 100 }, (_, i) => {
      const seq = produced + i;
      return { key: `k${seq % 1000}`, value: `{"key":"k${seq % 1000}","seq":${seq}}`, headers: headers ? { 'eddy.ingest': `worker-1-1|0123456789abc|${i}|processed` } : undefined };
    });
    const produce = async (send: (batch: ReturnType<typeof records>) => Promise<unknown>, headers: boolean): Promise<number> => {
      const before = process.cpuUsage();
      for (let r = 0; r < requests; r++) {
        const batch = records(headers);
        await send(batch);
        produced += batch.length;
      }
      const used = process.cpuUsage(before);
      return (used.user + used.system) / (requests * 100);
    };
    const kafkajs = (batch: ReturnType<typeof records>) => producer.send({ topic, acks: -1, messages: batch });
    // The ingest endpoint places events itself (ingest-messages.ts); here: by sequence number.
    const platformatic = (batch: ReturnType<typeof records>) => ingest.send(batch.map((m, i) => ({ ...m, topic, partition: i % 12 })));
    try {
      for (let round = 1; round <= rounds; round++) {
        const withHeader = await produce(kafkajs, true);
        const without = await produce(kafkajs, false);
        const ingestWithout = await produce(platformatic, false);
        console.log(`round ${round}: produce, kafkajs ${withHeader.toFixed(1)} µs/record with a header, ${without.toFixed(1)} without; ingest producer ${ingestWithout.toFixed(1)} without`);
      }
      const consumer = kafka.consumer({ groupId: `${topic}.reader` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let consumed = 0;
      const before = process.cpuUsage();
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachBatch: ({ batch }) => {
            consumed += batch.messages.length;
            if (consumed >= produced) resolve();
            return Promise.resolve();
          },
        });
      });
      const used = process.cpuUsage(before);
      console.log(`consume, kafkajs: ${((used.user + used.system) / consumed).toFixed(1)} µs/record over ${consumed} records (a third with a header)`);
      await consumer.disconnect();
      await compareTransactions(kafka, brokers, topic, rounds);
    } finally {
      await ingest.close();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });


/** Records per transaction and per request, as a task publishes a checkpoint's outputs. */
const transactionRecords = 5_000;
const requestRecords = 500;

/** kafkajs against @platformatic/kafka, publishing inside transactions: CPU per record and wall time per transaction. */
async function compareTransactions(kafka: Kafka, brokers: string[], topic: string, rounds: number): Promise<void> {
  const transactions = 20;
  let seq = 0;
  const records = () => Array.from({ length: transactionRecords }, () => {
    const n = seq++;
    return { key: `k${n % 1000}`, value: `{"key":"k${n % 1000}","count":${n}}`, partition: n % 12 };
  });
  const kafkajs = kafka.producer({ transactionalId: `${topic}.kafkajs`, idempotent: true, maxInFlightRequests: 1 });
  await kafkajs.connect();
  const platformatic = new PlatformaticProducer({
    clientId: 'eddy-kafka-client-cost-transactions', bootstrapBrokers: brokers, idempotent: true,
    transactionalId: `${topic}.platformatic`, serializers: stringSerializers, autocreateTopics: false,
  });
  const clients: Record<string, () => Promise<void>> = {
    kafkajs: async () => {
      const transaction = await kafkajs.transaction();
      const messages = records();
      for (let i = 0; i < messages.length; i += requestRecords) await transaction.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.slice(i, i + requestRecords) }] });
      await transaction.commit();
    },
    '@platformatic/kafka': async () => {
      const transaction = await platformatic.beginTransaction();
      const messages = records().map((m) => ({ ...m, topic }));
      for (let i = 0; i < messages.length; i += requestRecords) await transaction.send({ messages: messages.slice(i, i + requestRecords) });
      await transaction.commit();
    },
  };
  try {
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const [name, publish] of Object.entries(clients)) {
        const before = process.cpuUsage();
        const startedAt = Date.now();
        for (let t = 0; t < transactions; t++) await publish();
        const used = process.cpuUsage(before);
        line.push(`${name} ${((used.user + used.system) / (transactions * transactionRecords)).toFixed(1)} µs/record, ${Math.round((Date.now() - startedAt) / transactions)} ms/transaction`);
      }
      console.log(`round ${round}: transactions of ${transactionRecords} records, ${line.join('; ')}`);
    }
  } finally {
    await kafkajs.disconnect();
    await platformatic.close();
  }
}

await command.parseAsync(process.argv);

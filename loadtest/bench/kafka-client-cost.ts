/**
 * `npx tsx loadtest/bench/kafka-client-cost.ts`: how much CPU the Kafka clients themselves
 * spend per record on this machine, the floor under every Eddy figure (each ingested event is
 * produced, consumed, and its output produced again). Produces batches of 100 small JSON
 * records to a fresh 12-partition topic with kafkajs (with and without one header per record)
 * and with the ingest endpoint's producer (@platformatic/kafka, worker/ingest/ingest-producer.ts),
 * then consumes them all with kafkajs; prints CPU µs per record for each, measured with
 * process.cpuUsage (this process only: the broker's work is not in it). Needs the local stack
 * (`eddy stack up`) or EDDY_KAFKA_BROKERS. Deletes its topic at the end.
 */
import { Command } from 'commander';
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
    } finally {
      await ingest.close();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

await command.parseAsync(process.argv);

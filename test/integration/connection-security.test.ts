// Kafka SASL and NATS credentials passed through from configuration, against a real broker with a
// SASL_PLAINTEXT listener and a real nats-server that wants a token, both started by this test:
// a cluster (coordinator + 2 workers) runs eos-check through them end to end (consume, produce,
// transactions, the ingest endpoint's producer and its NATS acks); a coordinator with a wrong
// Kafka password and a worker with a wrong NATS token are refused, saying why, without printing
// either secret; and no log holds one.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsReady } from '../../common/kafka.ts';
import { loadConfig, type EddyConfig } from '../../common/config.ts';
import { createLogger } from '../../common/logger.ts';
import { startKafka, stopKafka } from '../../deploy/local/kafka.ts';
import { freePort, LocalCluster } from '../../deploy/local/local-cluster.ts';
import { installNatsServer } from '../../deploy/local/nats.ts';
import { EOS_PARTITIONS } from '../../examples/eos-check/job.ts';
import { readRecords, uniqueName } from './support.ts';

const kafkaPassword = `kafka-pw-${uniqueName('s')}`;
const natsToken = `nats-token-${uniqueName('s')}`;

describe('Kafka SASL and NATS credentials from configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-connsec-'));
  const logger = createLogger('connection-security-test', 'warn');
  const prefix = uniqueName('connsec').replace(/[^A-Za-z0-9_.-]/g, '_');
  const topics = { input: `${prefix}.input`, output: `${prefix}.output` };
  let kafkaConfig: EddyConfig;
  let saslBrokers: string[] = [];
  let plain: Kafka;
  let nats: ChildProcess | undefined;
  let natsUrl = '';
  let cluster: LocalCluster | undefined;
  const configFile = (passwordFile: string, tokenFile: string) => {
    const path = join(dir, `eddy-${uniqueName('c')}.yaml`);
    writeFileSync(path, `kafka:\n  sasl: { mechanism: plain, username: eddy, passwordFile: ${passwordFile} }\nnats:\n  tokenFile: ${tokenFile}\n`);
    return path;
  };
  const secret = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, `${text}\n`, { mode: 0o600 });
    return path;
  };

  beforeAll(async () => {
    const base = loadConfig({ env: {} });
    const kafkaPort = await freePort();
    const saslPort = await freePort();
    kafkaConfig = { ...base, local: { ...base.local, stateDir: join(dir, 'stack'), kafkaPort, kafkaControllerPort: await freePort() } };
    await startKafka(kafkaConfig, logger, { saslListener: { port: saslPort, users: { eddy: kafkaPassword } } });
    saslBrokers = [`127.0.0.1:${saslPort}`];
    // The broker's plain listener: the test's own producer and independent reader.
    plain = new Kafka({ brokers: [`127.0.0.1:${kafkaPort}`], clientId: 'connsec-test', logLevel: logLevel.NOTHING });
    const admin = plain.admin();
    await admin.connect();
    await createTopicsReady(admin, Object.values(topics).map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
    await admin.disconnect();

    const natsPort = await freePort();
    natsUrl = `nats://127.0.0.1:${natsPort}`;
    nats = spawn(await installNatsServer(base, logger), ['-a', '127.0.0.1', '-p', String(natsPort), '--auth', natsToken], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const nc = await connect({ servers: natsUrl, token: natsToken, reconnect: false, timeout: 500 }).catch(() => undefined);
      if (nc !== undefined) {
        await nc.close();
        break;
      }
      if (i > 100) throw new Error('nats-server with --auth did not start');
      await sleep(100);
    }
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    if (nats?.exitCode === null) {
      nats.kill('SIGTERM');
      await once(nats, 'exit');
    }
    await stopKafka(kafkaConfig);
  }, 90_000);

  it('runs a cluster end to end through SASL and a NATS token', async () => {
    const config = configFile(secret('kafka-password', kafkaPassword), secret('nats-token', natsToken));
    cluster = new LocalCluster({
      job: 'eos-check', workers: 2, brokers: saslBrokers, natsUrl, dir: join(dir, 'cluster'), controlPort: await freePort(), adminPort: await freePort(), threadsPerWorker: 1,
      env: { EDDY_CONFIG: config, EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_INTERVAL_MS: '500', EDDY_LOG_LEVEL: 'info' },
    });
    await cluster.start();
    const view = await cluster.waitUntilRunning(120_000);
    const producer = plain.producer();
    await producer.connect();
    await producer.send({ topic: topics.input, messages: Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 20}`, value: JSON.stringify({ key: `k${i % 20}`, seq: Math.floor(i / 20) + 1 }) })) });
    await producer.disconnect();
    // The ingest endpoint: its producer authenticates to Kafka, its acks come back over NATS with the token.
    const endpoint = view.workers.find((w) => w.alive)?.endpoint;
    const ingest = await fetch(`http://${endpoint}/v1/topics/${topics.input}/events?wait=processed`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ key: 'ingested', value: { key: 'ingested', seq: 1 } }]),
    });
    expect(ingest.status).toBe(200);
    // Exactly-once outputs, committed through SASL, read back by an independent read_committed reader.
    const outputs = await readRecords(plain, { topics: [topics.output], count: 201, timeoutMs: 60_000, settleMs: 1_000 });
    expect(outputs).toHaveLength(201);
  }, 240_000);

  it('refuses a coordinator with a wrong Kafka password and a worker with a wrong NATS token, naming neither secret', async () => {
    const wrongPassword = `wrong-pw-${uniqueName('x')}`;
    const wrongToken = `wrong-token-${uniqueName('x')}`;
    const run = async (args: string[], config: string) => {
      const child = spawn(process.execPath, ['bin/eddy.js', ...args], {
        env: { ...process.env, EDDY_CONFIG: config, EDDY_KAFKA_BROKERS: saslBrokers.join(','), EDDY_NATS_URL: natsUrl, EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_CHECKPOINT_DIR: join(dir, 'cp'), EDDY_LOG_FORMAT: 'json' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await Promise.race([once(child, 'exit'), sleep(90_000).then(() => ['timeout'])])) as [number | string];
      if (code === 'timeout') child.kill('SIGKILL');
      return { code, output };
    };
    const coordinator = await run(['coordinator', '--job', 'eos-check', '--control-port', String(await freePort()), '--admin-port', String(await freePort())],
      configFile(secret('wrong-kafka-password', wrongPassword), secret('nats-token-2', natsToken)));
    expect(coordinator.code).not.toBe('timeout');
    expect(coordinator.code).not.toBe(0);
    expect(coordinator.output).toMatch(/SASL PLAIN authentication failed|Authentication failed/i);
    expect(coordinator.output).not.toContain(wrongPassword);

    const worker = await run(['worker', '--job', 'eos-check', '--id', 'worker-x', '--coordinator', '127.0.0.1:1', '--data-dir', join(dir, 'wx')],
      configFile(secret('kafka-password-2', kafkaPassword), secret('wrong-nats-token', wrongToken)));
    expect(worker.code).not.toBe('timeout');
    expect(worker.code).not.toBe(0);
    expect(worker.output).toMatch(/AUTHORIZATION_VIOLATION|Authorization Violation/i);
    expect(worker.output).not.toContain(wrongToken);
  }, 240_000);

  it('logs no secret in any cluster process', () => {
    const logs = join(dir, 'cluster', 'logs');
    for (const name of readdirSync(logs)) {
      const text = readFileSync(join(logs, name), 'utf8');
      expect(text.includes(kafkaPassword) || text.includes(natsToken), `${name} holds a secret`).toBe(false);
    }
  });
});

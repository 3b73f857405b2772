import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicsReady } from './common/kafka.ts';
import { freePort, LocalCluster } from './deploy/local/local-cluster.ts';
import { EOS_PARTITIONS } from './examples/eos-check/job.ts';
const kafka = new Kafka({ brokers: ['127.0.0.1:19092'], logLevel: logLevel.NOTHING });
const prefix = `trace_${Date.now()}`;
const admin = kafka.admin(); await admin.connect();
await createTopicsReady(admin, [`${prefix}.input`, `${prefix}.output`].map((topic) => ({ topic, numPartitions: EOS_PARTITIONS })));
const p = kafka.producer(); await p.connect();
await p.send({ topic: `${prefix}.input`, messages: Array.from({ length: 1200 }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ key: `k${i}`, seq: 1 }) })) });
const dir = mkdtempSync(join(tmpdir(), 'trace-'));
const cluster = new LocalCluster({ job: 'eos-check', workers: 3, brokers: ['127.0.0.1:19092'], dir, controlPort: await freePort(), adminPort: await freePort(), env: { EDDY_EOS_TOPIC_PREFIX: prefix, EDDY_LOG_LEVEL: process.env.LVL ?? 'info' }, nodeArgs: process.env.NODEARGS ? process.env.NODEARGS.split(' ') : undefined });
const t0 = Date.now(); console.log('t0', t0 % 100000);
await cluster.start();
const w0 = Date.now();
await cluster.waitUntilRunning(120000);
const r0 = Date.now();
await cluster.stop();
console.log('coordinator', w0 - t0, 'running', r0 - t0);
for (const f of readdirSync(join(dir, 'logs'))) {
  for (const line of readFileSync(join(dir, 'logs', f), 'utf8').split('\n')) {
    if (line.startsWith('TRACE')) console.log(f.padEnd(16), String(Number(line.split(' ')[1]) - (t0 % 100000)).padStart(6), line.split(' ').slice(2).join(' '));
    try { const j = JSON.parse(line); if (j.time <= r0 + 500) console.log(f.padEnd(16), String(j.time - t0).padStart(6), (j.msg ?? '').slice(0, 110)); } catch {}
  }
}
await admin.deleteTopics({ topics: [`${prefix}.input`, `${prefix}.output`] });
await admin.disconnect(); await p.disconnect();

// Mutual TLS on the control plane of a real cluster (coordinator + 3 workers, certificates from
// `eddy certs`): the cluster runs over it, and three impostors that try to join as worker-1 (and
// take its tasks) are refused: one in plain text, one with a certificate of another CA, one with a
// certificate of the right CA that names someone else.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClusterCerts } from '../../common/cluster-certs.ts';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { fetchCluster } from '../../deploy/prometheus/worker-targets.ts';
import { startEosCluster, stopEosCluster } from './eos-cluster.ts';
import { testKafka, uniqueName } from './support.ts';

describe('mutual TLS on the control plane', () => {
  const kafka = testKafka();
  const prefix = uniqueName('tls').replace(/[^A-Za-z0-9_.-]/g, '_');
  const root = mkdtempSync(join(tmpdir(), 'eddy-tls-'));
  const tlsDir = join(root, 'cluster');
  let cluster: LocalCluster;
  const impostors: ChildProcess[] = [];

  beforeAll(async () => {
    await createClusterCerts(tlsDir, { workers: ['worker-1', 'worker-2', 'worker-3', 'mallory'], hosts: ['127.0.0.1', 'localhost'] });
    ({ cluster } = await startEosCluster(kafka, prefix, { EDDY_TLS_DIR: tlsDir }));
  }, 180_000);

  afterAll(async () => {
    for (const p of impostors) if (p.exitCode === null) p.kill('SIGKILL');
    await stopEosCluster(kafka, cluster, prefix);
  }, 60_000);

  /** A worker process that says it is worker-1, with `tls` as its TLS directory (none: plain text). */
  const impostor = (tls: string | undefined) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env, EDDY_KAFKA_BROKERS: inject('brokers').join(','), EDDY_NATS_URL: inject('natsUrl'), EDDY_EOS_TOPIC_PREFIX: prefix,
      EDDY_CHECKPOINT_DIR: join(root, 'checkpoints'), EDDY_LOG_FORMAT: 'json', EDDY_TLS_DIR: tls ?? '',
    };
    const child = spawn(process.execPath, ['bin/eddy.js', 'worker', '--job', 'eos-check', '--id', 'worker-1', '--coordinator', cluster.controlAddress, '--data-dir', join(root, `data-${impostors.length}`), '--threads', '1'], {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    impostors.push(child);
    return { child, output: () => output };
  };

  const owners = async () => {
    const view = await fetchCluster(cluster.adminUrl);
    return { worker1: view.workers.find((w) => w.id === 'worker-1' && w.alive), running: view.tasks.filter((t) => t.state === 'running').length };
  };

  it('runs the cluster over mutual TLS, each worker under the id its certificate names', async () => {
    const { worker1, running } = await owners();
    expect(running).toBe(12);
    expect(worker1?.tasks.length).toBeGreaterThan(0);
  });

  it('refuses a worker in plain text and one with another CA\'s certificate: worker-1 keeps its tasks', async () => {
    const before = await owners();
    const foreign = join(root, 'foreign');
    await createClusterCerts(foreign, { workers: ['worker-1'], hosts: ['127.0.0.1'] });
    const plain = impostor(undefined);
    const other = impostor(foreign);
    await sleep(8_000);
    const after = await owners();
    expect(after.worker1?.pid).toBe(before.worker1?.pid);
    expect(after.worker1?.tasks).toEqual(before.worker1?.tasks);
    expect(after.running).toBe(12);
    // Neither got past the handshake: both still wait for a coordinator that will not talk to them.
    expect(plain.output()).toContain('waiting for the coordinator');
    expect(other.output()).toContain('waiting for the coordinator');
    expect(plain.output()).not.toContain('joined the cluster');
    expect(other.output()).not.toContain('joined the cluster');
  });

  it('refuses a certificate of the right CA that names another worker, saying so', async () => {
    const before = await owners();
    const stolen = join(root, 'mallory-as-worker-1');
    mkdirSync(stolen);
    copyFileSync(join(tlsDir, 'ca.crt'), join(stolen, 'ca.crt'));
    copyFileSync(join(tlsDir, 'mallory.crt'), join(stolen, 'worker-1.crt'));
    copyFileSync(join(tlsDir, 'mallory.key'), join(stolen, 'worker-1.key'));
    const mallory = impostor(stolen);
    const [code] = (await Promise.race([once(mallory.child, 'exit'), sleep(60_000).then(() => ['timeout'])])) as [number | string];
    expect(code).not.toBe('timeout');
    expect(code).not.toBe(0);
    expect(mallory.output()).toContain("this worker says it is 'worker-1', but its certificate is for 'mallory'");
    const after = await owners();
    expect(after.worker1?.pid).toBe(before.worker1?.pid);
    expect(after.running).toBe(12);
  });
});

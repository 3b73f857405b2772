import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import type { LocalCluster } from '../../deploy/local/local-cluster.ts';
import { clusterRunning } from '../../deploy/local/local-cluster.ts';
import { allKeysReached, checkEosOutput, eosTopics, produceSeqs, producerFor, startEosCluster } from './eos-harness.ts';
import { readUntil, testKafka } from './support.ts';

describe('cluster: coordinator + 3 worker processes running eos-check on real Kafka', () => {
  const kafka = testKafka();
  const topics = eosTopics();
  let cluster: LocalCluster;
  let producer: Producer;

  beforeAll(async () => {
    cluster = await startEosCluster(topics, 3);
    await cluster.waitUntilRunning(60_000);
    producer = producerFor(kafka);
    await producer.connect();
  });
  afterAll(async () => {
    await producer?.disconnect();
    await cluster?.stop();
  });

  it('spreads 12 tasks over 3 workers and reports them on the admin API', async () => {
    const view = await cluster.view();
    expect(view?.tasks).toHaveLength(12);
    const counts = view?.workers.filter((w) => w.alive).map((w) => w.tasks.length);
    expect(counts).toEqual([4, 4, 4]);
    for (const w of view?.workers ?? []) expect(w.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    const metrics = await (await fetch(`${cluster.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/eddy_tasks\{state="running",role="coordinator"\} 12/);
  });

  it('produces exactly what an independent reader computes from the input', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    const n = 25;
    const produced = await produceSeqs(producer, topics.input, keys, 1, n);
    const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 60_000, settleMs: 1_000, done: (r) => r.length >= produced });

    expect(checkEosOutput(outputs, keys, n)).toEqual({ outputs: produced, lost: 0, duplicated: 0, wrongCounts: 0 });
    // Per key, outputs appear in count order (one key = one partition = one task, in offset order).
    const byKey = new Map<string, number[]>();
    for (const r of outputs) {
      const out = JSON.parse(r.value?.toString() ?? '') as { key: string; count: number };
      byKey.set(out.key, [...(byKey.get(out.key) ?? []), out.count]);
      expect(r.key?.toString()).toBe(out.key);
    }
    for (const counts of byKey.values()) expect(counts).toEqual([...counts].sort((a, b) => a - b));
  });

  it('sends undecodable records to the dead-letter topic with their bytes and the reason, and goes on', async () => {
    const [badJson, badSeq, afterBad] = ['bad-json', 'bad-seq', 'after-bad'].map((k) => `${topics.prefix}-${k}`) as [string, string, string];
    const bad = [
      { key: badJson, value: `{"key": "${badJson}", "seq": ` },
      { key: badSeq, value: `{"key":"${badSeq}","seq":"one"}` },
    ];
    await producer.send({ topic: topics.input, acks: -1, messages: [...bad, { key: afterBad, value: `{"key":"${afterBad}","seq":1}` }] });

    const dead = await readUntil(kafka, { topics: [`eddy.eos-check.${topics.prefix}.dlq`], timeoutMs: 30_000, done: (r) => bad.every((b) => r.some((d) => d.key?.toString() === b.key)) });
    for (const b of bad) {
      const letter = dead.find((d) => d.key?.toString() === b.key);
      expect(letter?.value?.toString()).toBe(b.value);
      expect(letter?.headers?.['eddy.dlq.source']?.toString()).toMatch(new RegExp(`^${topics.input.replace(/\./g, '\\.')}\\[\\d+\\]@\\d+$`));
    }
    const seqLetter = dead.find((d) => d.key?.toString() === badSeq);
    expect(seqLetter?.headers?.['eddy.dlq.field']?.toString()).toBe('seq');
    expect(seqLetter?.headers?.['eddy.dlq.reason']?.toString()).toMatch(/number/);
    const after = await readUntil(kafka, { topics: [topics.output], timeoutMs: 30_000, done: (r) => r.some((o) => o.key?.toString() === afterBad) });
    expect(after.some((o) => o.key?.toString() === afterBad)).toBe(true);
    expect(clusterRunning((await cluster.view())!, 3)).toBe(true);
  });

  it('moves a SIGKILLed worker\'s tasks to the survivors within 5 s, losing and doubling nothing', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `kill-${i}`);
    await produceSeqs(producer, topics.input, keys, 1, 10);
    const victim = 'worker-2';
    const before = await cluster.view();
    const victimTasks = before?.workers.find((w) => w.id === victim)?.tasks ?? [];
    expect(victimTasks.length).toBeGreaterThan(0);

    // Keep producing while the worker dies: seq 11..40, one seq for every key each 50 ms.
    const producing = (async () => {
      for (let seq = 11; seq <= 40; seq++) {
        await produceSeqs(producer, topics.input, keys, seq, seq);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await new Promise((r) => setTimeout(r, 600));
    const killedAt = Date.now();
    await cluster.kill(victim, 'SIGKILL');
    const after = await cluster.waitUntilRunning(5_000, 2);
    const recoveryMs = Date.now() - killedAt;
    console.log(`tasks ${victimTasks.join(',')} of ${victim} running elsewhere ${recoveryMs} ms after SIGKILL`);
    expect(recoveryMs).toBeLessThan(5_000);
    for (const task of victimTasks) expect(after.tasks[task]?.worker).not.toBe(victim);
    await producing;

    const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 60_000, done: (r) => allKeysReached(r, keys, 40) });
    const check = checkEosOutput(outputs.filter((r) => r.key?.toString().startsWith('kill-')), keys, 40);
    console.log(`after SIGKILL: ${JSON.stringify(check)}`);
    expect({ lost: check.lost, duplicated: check.duplicated, wrongCounts: check.wrongCounts }).toEqual({ lost: 0, duplicated: 0, wrongCounts: 0 });
    cluster.restart(victim); // a restarted worker rejoins and gets tasks again
    const rejoined = await cluster.waitUntilRunning(30_000, 3);
    expect(rejoined.workers.find((w) => w.id === victim && w.alive)?.tasks.length).toBe(4);
  });

  it('fences a frozen worker that comes back as a zombie: its tasks moved on, nothing doubled', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `zombie-${i}`);
    await produceSeqs(producer, topics.input, keys, 1, 10);
    const victim = 'worker-3';
    cluster.signal(victim, 'SIGSTOP'); // alive but silent: misses heartbeats, holds its producers
    try {
      await cluster.waitUntilRunning(15_000, 2);
      await produceSeqs(producer, topics.input, keys, 11, 20);
    } finally {
      cluster.signal(victim, 'SIGCONT'); // the zombie wakes up believing it still owns its tasks
    }
    await produceSeqs(producer, topics.input, keys, 21, 30);
    const outputs = await readUntil(kafka, { topics: [topics.output], timeoutMs: 60_000, done: (r) => allKeysReached(r, keys, 30) });
    await new Promise((r) => setTimeout(r, 3_000)); // let a zombie commit, if it could, show up
    const late = await readUntil(kafka, { topics: [topics.output], timeoutMs: 30_000, done: (r) => r.length >= outputs.length });
    const check = checkEosOutput(late.filter((r) => r.key?.toString().startsWith('zombie-')), keys, 30);
    console.log(`after a zombie: ${JSON.stringify(check)}`);
    expect({ lost: check.lost, duplicated: check.duplicated, wrongCounts: check.wrongCounts }).toEqual({ lost: 0, duplicated: 0, wrongCounts: 0 });
    await cluster.waitUntilRunning(30_000, 3); // the zombie rejoined as a fresh member
  });
});

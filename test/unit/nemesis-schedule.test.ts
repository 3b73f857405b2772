import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { faultKinds, parseKinds, planNemesis, type FaultKind } from '../../loadtest/chaos/nemesis/schedule.ts';
import { TcpProxy } from '../../loadtest/chaos/nemesis/tcp-proxy.ts';

const base = { workers: 3, tasks: 12, heartbeatTimeoutMs: 1_500, gapSec: 4 };

describe('the nemesis plan (loadtest/chaos/nemesis/schedule.ts)', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = planNemesis({ ...base, seed: 42, kinds: faultKinds, rounds: 22 });
    expect(planNemesis({ ...base, seed: 42, kinds: faultKinds, rounds: 22 })).toEqual(a);
    expect(planNemesis({ ...base, seed: 43, kinds: faultKinds, rounds: 22 })).not.toEqual(a);
  });

  it('runs every kind alone first, then combines two per round, never two cluster-wide faults nor one worker twice', () => {
    const clusterWide = new Set<FaultKind>(['kill-coordinator', 'pause-during-failover', 'kill-broker', 'store-full', 'store-readonly', 'corrupt-snapshot', 'corrupt-base']);
    for (let seed = 1; seed <= 30; seed++) {
      const plan = planNemesis({ ...base, seed, kinds: faultKinds, rounds: 30 });
      expect(plan).toHaveLength(30);
      expect(new Set(plan.slice(0, faultKinds.length).map((r) => r.faults[0]?.kind))).toEqual(new Set(faultKinds));
      expect(plan.slice(0, faultKinds.length).every((r) => r.faults.length === 1)).toBe(true);
      for (const round of plan.slice(faultKinds.length)) {
        expect(round.faults.length).toBe(2);
        expect(round.faults.filter((f) => clusterWide.has(f.kind)).length).toBeLessThanOrEqual(1);
        const victims = round.faults.flatMap((f) => ('worker' in f ? [f.worker] : []));
        expect(new Set(victims).size).toBe(victims.length);
      }
      for (const f of plan.flatMap((r) => r.faults)) {
        if (f.kind === 'pause-worker' || f.kind === 'partition-coordinator' || f.kind === 'partition-kafka') expect(f.holdMs).toBeGreaterThan(base.heartbeatTimeoutMs);
      }
    }
  });

  it('parses --nemesis and names the kinds it does not know', () => {
    expect(parseKinds('all')).toEqual([...faultKinds]);
    expect(parseKinds('kill-worker, clock-jump')).toEqual(['kill-worker', 'clock-jump']);
    expect(() => parseKinds('kill-worker,meteor')).toThrow(/unknown fault kind\(s\) meteor; choose from all, kill-worker/);
  });
});

describe('the nemesis TCP proxy', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function echoServer(): Promise<Server> {
    const server = createServer((socket) => socket.pipe(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => new Promise((resolve) => server.close(resolve)));
    return server;
  }

  async function client(port: number): Promise<{ socket: Socket; received: () => string }> {
    const socket = createConnection(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await once(socket, 'connect');
    closers.push(() => Promise.resolve(socket.destroy()));
    return { socket, received: () => text };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

  it('forwards, holds every byte while cut (connections stay open), and delivers them in order when healed', async () => {
    const server = await echoServer();
    const address = server.address() as { port: number };
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: address.port });
    closers.push(() => proxy.close());
    const c = await client(proxy.port);
    c.socket.write('one;');
    await settle();
    expect(c.received()).toBe('one;');
    proxy.blackhole();
    c.socket.write('two;');
    const late = await client(proxy.port); // accepted, never answered while cut
    late.socket.write('hello?');
    await settle();
    expect(c.received()).toBe('one;');
    expect(late.received()).toBe('');
    expect(c.socket.destroyed).toBe(false);
    proxy.heal();
    c.socket.write('three;');
    await settle();
    expect(c.received()).toBe('one;two;three;');
    expect(late.received()).toBe('hello?');
  });
});

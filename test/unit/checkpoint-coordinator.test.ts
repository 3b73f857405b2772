import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../common/logger.ts';
import { CheckpointCoordinator, type CheckpointHost } from '../../coordinator/checkpoints/checkpoint-coordinator.ts';
import type { Participant } from '../../coordinator/checkpoints/pending-checkpoint.ts';
import type { CoordinatorMessage } from '../../proto/control.ts';
import { CheckpointStore } from '../../state/checkpoint-store.ts';

function setup(options: { tasks?: number; running?: boolean } = {}) {
  let now = 10_000;
  const store = new CheckpointStore(mkdtempSync(join(tmpdir(), 'eddy-chk-')));
  const sent: { worker: string; message: CoordinatorMessage }[] = [];
  const broadcasts: CoordinatorMessage[] = [];
  const tasks = options.tasks ?? 4;
  let participants: Map<number, Participant> | undefined = new Map(
    Array.from({ length: tasks }, (_, t) => [t, { worker: t % 2 === 0 ? 'a' : 'b', generation: 7 }]),
  );
  if (options.running === false) participants = undefined;
  let settledCount = 0;
  const host: CheckpointHost = {
    participants: () => participants,
    send: (worker, message) => sent.push({ worker, message }),
    broadcast: (message) => broadcasts.push(message),
    settled: () => (settledCount += 1),
  };
  const made: CheckpointCoordinator[] = [];
  const make = () => {
    const c = new CheckpointCoordinator({ job: 'j', intervalMs: 1_000, timeoutMs: 5_000, retain: 3, store, clock: () => now, logger: createLogger('test', 'silent') }, host);
    made.push(c);
    return c;
  };
  const coordinator = make();
  const ackAll = (id: number, c = coordinator, except?: number) => {
    for (let task = 0; task < tasks; task++) {
      if (task === except) continue;
      c.ack(task % 2 === 0 ? 'a' : 'b', { checkpointId: id, task, generation: 7, offsets: { in: String(task * 10) }, snapshotRef: store.snapshotRef(id, task, 'w-1', 7), bytes: 100, records: 3, snapshotMs: 5, chain: [] });
    }
  };
  // Lets every manifest write in flight finish (real files: its time varies with the machine's load).
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 5));
    await vi.waitFor(() => expect(made.some((c) => c.completingNow)).toBe(false), { timeout: 10_000, interval: 5 });
  };
  return {
    coordinator, make, store, sent, broadcasts, ackAll, settle, settledCount: () => settledCount,
    advance: (ms: number) => (now += ms), setParticipants: (p: typeof participants) => (participants = p),
  };
}

describe('CheckpointCoordinator', () => {
  it('triggers only while every task runs, telling each worker its tasks', () => {
    const { coordinator, sent, setParticipants } = setup({ running: false });
    coordinator.tick();
    expect(sent).toEqual([]);
    setParticipants(new Map([[0, { worker: 'a', generation: 1 }], [1, { worker: 'b', generation: 1 }], [2, { worker: 'a', generation: 1 }]]));
    coordinator.tick();
    expect(sent).toEqual([
      { worker: 'a', message: { triggerCheckpoint: { checkpointId: 1, tasks: [0, 2] } } },
      { worker: 'b', message: { triggerCheckpoint: { checkpointId: 1, tasks: [1] } } },
    ]);
  });

  it('completes when every task acked: manifest first, then CheckpointCommitted', async () => {
    const { coordinator, store, broadcasts, ackAll, settle } = setup();
    coordinator.tick();
    ackAll(1, coordinator, 3);
    await settle();
    expect(broadcasts).toEqual([]);
    expect(await store.completed()).toEqual([]);
    ackAll(1);
    await settle();
    expect(await store.completed()).toEqual([1]);
    expect((await store.readManifest(1)).tasks.map((t) => t.offsets.in)).toEqual(['0', '10', '20', '30']);
    expect(broadcasts).toEqual([{ checkpointCommitted: { checkpointId: 1 } }]);
    expect(coordinator.latestCompleted).toBe(1);
    expect(coordinator.history.recent()[0]).toMatchObject({ id: 1, state: 'completed', bytes: 400, tasks: 4 });
  });

  it('ignores acks from the wrong owner, the wrong generation or an abandoned checkpoint', async () => {
    const { coordinator, broadcasts, store, settle } = setup({ tasks: 1 });
    coordinator.tick();
    const ack = { checkpointId: 1, task: 0, offsets: {}, snapshotRef: 'x', bytes: 1, records: 1, snapshotMs: 1, chain: [] };
    coordinator.ack('b', { ...ack, generation: 7 });
    coordinator.ack('a', { ...ack, generation: 6 });
    coordinator.ack('a', { ...ack, generation: 7, checkpointId: 0 });
    await settle();
    expect(broadcasts).toEqual([]);
    expect(await store.completed()).toEqual([]);
  });

  it('abandons on timeout, decline or a lost task, and the next checkpoint carries on', async () => {
    const { coordinator, sent, advance, ackAll, settle, broadcasts } = setup({ tasks: 2 });
    coordinator.tick(); // 1
    advance(5_001);
    coordinator.tick(); // 1 times out; 2 triggered (interval passed)
    coordinator.declined('a', { checkpointId: 2, task: 0, generation: 7, reason: 'SNAPSHOT_FAILED', detail: 'disk full' });
    advance(1_000);
    coordinator.tick(); // 3
    coordinator.taskLost(1);
    advance(1_000);
    coordinator.tick(); // 4
    ackAll(4);
    await settle();
    const triggered = sent.map((s) => s.message.triggerCheckpoint?.checkpointId);
    expect([...new Set(triggered)]).toEqual([1, 2, 3, 4]);
    expect(coordinator.history.recent().map((r) => `${r.id}:${r.state}:${r.reason ?? ''}`)).toEqual([
      '4:completed:', '3:abandoned:task-lost', '2:abandoned:snapshot-failed', '1:abandoned:timeout',
    ]);
    expect(broadcasts).toEqual([{ checkpointCommitted: { checkpointId: 4 } }]);
  });

  it('keeps the last 3 checkpoints and never reuses an id after a restart', async () => {
    const { coordinator, make, store, advance, ackAll, settle, sent } = setup({ tasks: 2 });
    for (let id = 1; id <= 5; id++) {
      coordinator.tick();
      ackAll(id);
      await settle();
      advance(1_000);
    }
    coordinator.tick(); // 6, pending when the coordinator "dies"
    expect(await store.completed()).toEqual([5, 4, 3]);
    const restarted = make();
    await restarted.recover();
    expect(restarted.latestCompleted).toBe(5);
    restarted.observeId(6); // a worker saw checkpoint 6
    sent.length = 0;
    restarted.tick();
    expect(sent[0]?.message.triggerCheckpoint?.checkpointId).toBe(7);
  });

  it('records each task\'s owner and generation in the manifest, and proves claims only against the latest one', async () => {
    const { coordinator, make, store, ackAll, settle, advance, settledCount } = setup({ tasks: 2 });
    coordinator.tick();
    ackAll(1);
    await settle();
    expect(settledCount()).toBe(1);
    expect((await store.readManifest(1)).tasks.map((t) => [t.task, t.owner, t.generation])).toEqual([[0, 'a', 7], [1, 'b', 7]]);
    expect(coordinator.proves(0, 'a', [{ checkpointId: 1, generation: 7 }])).toBe(true);
    expect(coordinator.proves(0, 'b', [{ checkpointId: 1, generation: 7 }])).toBe(false); // not the owner it recorded
    expect(coordinator.proves(0, 'a', [{ checkpointId: 1, generation: 6 }])).toBe(false); // an older assignment
    advance(1_000);
    coordinator.tick();
    ackAll(2);
    await settle();
    expect(coordinator.proves(0, 'a', [{ checkpointId: 1, generation: 7 }])).toBe(false); // 1 is not the latest any more
    // A restarted coordinator proves against the manifest it reads back.
    const restarted = make();
    await restarted.recover();
    expect(restarted.proves(1, 'b', [{ checkpointId: 1, generation: 7 }, { checkpointId: 2, generation: 7 }])).toBe(true);
    expect(restarted.proves(1, 'b', [])).toBe(false);
  });

  it('reminds a joining worker of the latest commit', async () => {
    const { coordinator, sent, ackAll, settle } = setup({ tasks: 1 });
    coordinator.joined('a');
    expect(sent).toEqual([]);
    coordinator.tick();
    ackAll(1);
    await settle();
    coordinator.joined('c');
    expect(sent.at(-1)).toEqual({ worker: 'c', message: { checkpointCommitted: { checkpointId: 1 } } });
  });
});

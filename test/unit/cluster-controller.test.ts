import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { CheckpointCoordinator } from '../../coordinator/checkpoints/checkpoint-coordinator.ts';
import { ClusterController, type WorkerLink } from '../../coordinator/cluster-controller.ts';
import { createLogger } from '../../common/logger.ts';
import type { CoordinatorMessage, Hello__Output } from '../../proto/control.ts';
import { CheckpointStore, type TaskCheckpoint } from '../../state/checkpoint-store.ts';

/** A claim on `task` with the checkpoints its instance acked (checkpoint id, generation). */
type TestClaim = { task: number; acked: [number, number][] };

class FakeLink implements WorkerLink {
  sent: CoordinatorMessage[] = [];
  closed: string | undefined;
  send(message: CoordinatorMessage): void {
    this.sent.push(message);
  }
  close(reason: string): void {
    this.closed = reason;
  }
  take(): CoordinatorMessage[] {
    const out = this.sent;
    this.sent = [];
    return out;
  }
  assigned(): number[] {
    return this.sent.filter((m) => m.assign).map((m) => m.assign?.task as number).sort((a, b) => a - b);
  }
}

function setup(taskCount = 6, adoptGraceMs = 0, expect?: { workers: number; waitMs: number }) {
  let now = 1_000;
  const controller = new ClusterController({
    job: 'j', taskCount, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 1_500, revokeTimeoutMs: 5_000, adoptGraceMs,
    ...(expect === undefined ? {} : { expectWorkers: expect.workers, expectWorkersWaitMs: expect.waitMs }),
    clock: () => now, logger: createLogger('test', 'silent'),
  });
  const links = new Map<string, FakeLink>();
  const join = (id: string, claims: TestClaim[] = [], lastGeneration = 0): FakeLink => {
    const link = new FakeLink();
    links.set(id, link);
    const hello: Hello__Output = {
      workerId: id, endpoint: `${id}:1`, capacity: 0, pid: 1, job: 'j', lastGeneration, lastCheckpoint: 0,
      claims: claims.map((c) => ({ task: c.task, acked: c.acked.map(([checkpointId, generation]) => ({ checkpointId, generation })) })),
    };
    controller.hello(hello, link);
    return link;
  };
  /** Every worker answers every Assign with TaskReady and every Revoke with Revoked, until quiet. */
  const settle = (): void => {
    for (let round = 0; round < 10; round++) {
      let any = false;
      for (const [id, link] of links) {
        for (const m of link.take()) {
          if (m.assign) controller.message(id, { body: 'taskReady', taskReady: { task: m.assign.task ?? 0, generation: Number(m.assign.generation) } });
          if (m.revoke) controller.message(id, { body: 'revoked', revoked: { task: m.revoke.task ?? 0, generation: Number(m.revoke.generation) } });
          any = true;
        }
      }
      if (!any) return;
    }
  };
  const owners = () => controller.view().tasks.map((t) => `${t.task}:${t.worker}:${t.state}`);
  return { controller, join, settle, owners, advance: (ms: number) => (now += ms), links };
}

describe('ClusterController', () => {
  it('welcomes a worker and assigns it every task', () => {
    const { join } = setup(4);
    const link = join('a');
    expect(link.sent[0]?.welcome?.taskCount).toBe(4);
    expect(link.assigned()).toEqual([0, 1, 2, 3]);
  });

  it('waits for the expected workers before the first assignment, then spreads the tasks: nothing moves twice', () => {
    const { join, advance, controller } = setup(6, 3_000, { workers: 3, waitMs: 10_000 });
    const a = join('a');
    advance(500);
    const b = join('b');
    controller.tick();
    expect([a.assigned(), b.assigned()]).toEqual([[], []]);
    const c = join('c'); // all here, well inside the adoption grace: every claim is in
    expect([a.assigned(), b.assigned(), c.assigned()].map((tasks) => tasks.length)).toEqual([2, 2, 2]);
    expect([...a.sent, ...b.sent, ...c.sent].filter((m) => m.revoke)).toEqual([]);
  });

  it('assigns to the workers it has once the expected ones are waited for long enough', () => {
    const { join, advance, controller } = setup(4, 3_000, { workers: 3, waitMs: 10_000 });
    const a = join('a');
    const wait = (ms: number) => {
      for (let waited = 0; waited < ms; waited += Math.min(500, ms - waited)) {
        advance(Math.min(500, ms - waited));
        controller.message('a', { body: 'heartbeat', heartbeat: { seq: waited, generation: 0, taskStats: [] } });
        controller.tick();
      }
    };
    wait(9_999);
    expect(a.assigned()).toEqual([]);
    wait(1);
    expect(a.assigned()).toEqual([0, 1, 2, 3]);
  });

  it('refuses a worker that runs another job', () => {
    const { controller } = setup();
    const link = new FakeLink();
    const ok = controller.hello({ workerId: 'x', endpoint: '', capacity: 0, claims: [], pid: 1, job: 'other', lastGeneration: 0, lastCheckpoint: 0 }, link);
    expect(ok).toBe(false);
    expect(link.sent[0]?.reject?.reason).toMatch(/runs job 'j', not 'other'/);
  });

  it('revokes tasks from the old owner before assigning them to a joining worker', () => {
    const { controller, join, settle, links } = setup(6);
    join('a');
    settle();
    const b = join('b');
    const a = links.get('a') as FakeLink;
    const revokes = a.sent.filter((m) => m.revoke).map((m) => m.revoke?.task);
    expect(revokes).toHaveLength(3);
    expect(b.assigned()).toEqual([]); // nothing until a answers
    settle();
    const view = controller.view();
    expect(view.tasks.filter((t) => t.worker === 'b' && t.state === 'running')).toHaveLength(3);
    expect(view.tasks.every((t) => t.state === 'running')).toBe(true);
  });

  it('ignores a TaskReady from an older generation', () => {
    const { controller, join } = setup(2);
    const a = join('a');
    const generation = Number(a.sent.find((m) => m.assign)?.assign?.generation);
    controller.message('a', { body: 'taskReady', taskReady: { task: 0, generation: generation - 1 } });
    expect(controller.view().tasks[0]?.state).toBe('assigning');
    controller.message('a', { body: 'taskReady', taskReady: { task: 0, generation } });
    expect(controller.view().tasks[0]?.state).toBe('running');
  });

  it('gives a disconnected worker\'s tasks to the survivors at once, without a revoke', () => {
    const { controller, join, settle, links } = setup(6);
    join('a');
    join('b');
    settle();
    const generation = controller.tasks.generation;
    controller.disconnected('b', links.get('b') as FakeLink);
    const a = links.get('a') as FakeLink;
    expect(a.assigned()).toHaveLength(3);
    expect(a.sent.some((m) => m.revoke)).toBe(false);
    expect(controller.tasks.generation).toBeGreaterThan(generation);
    settle();
    expect(controller.view().tasks.every((t) => t.worker === 'a' && t.state === 'running')).toBe(true);
    expect(controller.view().workers.find((w) => w.id === 'b')?.alive).toBe(false);
  });

  it('evicts a worker that misses heartbeats', () => {
    const { controller, join, settle, advance, links } = setup(4);
    join('a');
    join('b');
    settle();
    advance(1_000);
    controller.message('a', { body: 'heartbeat', heartbeat: { generation: 1, taskStats: [], seq: 1 } });
    advance(1_000); // b silent for 2 s > 1.5 s; a for 1 s
    controller.tick();
    expect(links.get('b')?.closed).toMatch(/evicted/);
    settle();
    expect(controller.view().tasks.every((t) => t.worker === 'a')).toBe(true);
  });

  it('ignores messages from a worker that is no longer a member', () => {
    const { controller, join, settle, links } = setup(2);
    join('a');
    join('b');
    settle();
    controller.disconnected('b', links.get('b') as FakeLink);
    const before = controller.view();
    controller.message('b', { body: 'taskReady', taskReady: { task: 0, generation: controller.tasks.generation } });
    expect(controller.view()).toEqual(before);
  });

  it('adopts the tasks a worker proves it runs when the coordinator is new, continuing its generation', async () => {
    const { controller, join, advance } = setup(5, 2_000);
    // The latest complete checkpoint, 12, has a's snapshots of 0 and 1 and b's of 2 and 3 (generation 30).
    await attachCheckpoints(controller, 12, [[0, 'a', 30], [1, 'a', 30], [2, 'b', 30], [3, 'b', 30], [4, 'b', 30]]);
    const a = join('a', [{ task: 0, acked: [[11, 30], [12, 30]] }, { task: 1, acked: [[12, 30], [13, 30]] }], 41);
    const b = join('b', [{ task: 2, acked: [[12, 30]] }, { task: 3, acked: [[12, 30]] }], 40);
    expect(controller.tasks.generation).toBeGreaterThan(41);
    // Each gets its own tasks back under a new generation, as adoptions (a running worker just confirms).
    expect(a.assigned()).toEqual([0, 1]);
    expect(b.assigned()).toEqual([2, 3]);
    expect([...a.sent, ...b.sent].filter((m) => m.assign).every((m) => m.assign?.adopt === true)).toBe(true);
    for (const [id, link] of [['a', a], ['b', b]] as const) {
      for (const m of link.take()) if (m.assign) controller.message(id, { body: 'taskReady', taskReady: { task: m.assign.task ?? 0, generation: Number(m.assign.generation) } });
    }
    expect(controller.view().tasks.map((t) => `${t.worker}:${t.state}`)).toEqual(['a:running', 'a:running', 'b:running', 'b:running', 'null:unassigned']);
    // Task 4 nobody claimed: assigned once the grace period is over, nothing else moves.
    for (const step of [1_000, 1_100]) {
      advance(step);
      for (const id of ['a', 'b']) controller.message(id, { body: 'heartbeat', heartbeat: { generation: 41, taskStats: [], seq: 1 } });
    }
    controller.tick();
    expect([...a.assigned(), ...b.assigned()]).toEqual([4]);
    expect([...a.sent, ...b.sent].find((m) => m.assign)?.assign).toMatchObject({ task: 4, adopt: false, restoreFrom: 12 });
    expect(a.sent.some((m) => m.revoke) || b.sent.some((m) => m.revoke)).toBe(false);
  });

  it('does not adopt a claim the latest checkpoint does not prove: a stale worker that comes back first gets its task restored, not confirmed', async () => {
    // The issue-10 case: a was frozen; b took task 0 over and acked checkpoint 12 of it; the
    // coordinator restarted; a reconnects first and claims task 0 with what it acked before.
    const { controller, join, advance } = setup(2, 1_000);
    await attachCheckpoints(controller, 12, [[0, 'b', 35], [1, 'b', 35]]);
    const a = join('a', [{ task: 0, acked: [[9, 30], [10, 30]] }]);
    expect(a.assigned()).toEqual([]);
    expect(a.sent.find((m) => m.revoke)?.revoke).toMatchObject({ task: 0, reason: 'not-proven' });
    const b = join('b', [{ task: 0, acked: [[12, 35]] }, { task: 1, acked: [[12, 35]] }]);
    expect(b.sent.filter((m) => m.assign).map((m) => [m.assign?.task, m.assign?.adopt])).toEqual([[0, true], [1, true]]);
    advance(1_000);
    controller.tick();
    expect(controller.view().tasks.map((t) => t.worker)).toEqual(['b', 'b']);
  });

  it('holds back an Assign while a manifest is being written, so it names the checkpoint about to complete', async () => {
    const { controller, join, settle, links } = setup(2);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const store = new GatedStore(mkdtempSync(joinPath(tmpdir(), 'eddy-ctl-')), gate);
    const checkpoints = new CheckpointCoordinator(
      { job: 'j', intervalMs: 0, timeoutMs: 60_000, retain: 3, store, clock: () => 0, logger: createLogger('test', 'silent') },
      controller.checkpointHost(),
    );
    await checkpoints.recover();
    controller.attachCheckpoints(checkpoints);
    join('a');
    join('b');
    settle();
    checkpoints.tick(); // checkpoint 1 triggered
    const owners = controller.view().tasks.map((t) => t.worker as string);
    for (const [task, worker] of owners.entries()) {
      const generation = Number(controller.tasks.list()[task]?.generation);
      checkpoints.ack(worker, { checkpointId: 1, task, generation, offsets: {}, snapshotRef: `s${task}`, bytes: 1, records: 1, snapshotMs: 1, chain: [] });
    }
    // The manifest of 1 is being written when b dies: its task must not go to a with restoreFrom 0.
    controller.disconnected('b', links.get('b') as FakeLink);
    const a = links.get('a') as FakeLink;
    expect(a.assigned()).toEqual([]);
    release();
    // The manifest write (a real file: rename, fsync) finishes in its own time: wait for the Assign.
    await vi.waitFor(() => expect(a.sent.find((m) => m.assign)?.assign).toMatchObject({ restoreFrom: 1, adopt: false }), { timeout: 10_000, interval: 10 });
  });

  it('answers each heartbeat with its sequence number and tells the worker its lease', () => {
    const { controller, join } = setup(1);
    const a = join('a');
    expect(a.sent[0]?.welcome?.leaseMs).toBe(1_500);
    a.take();
    controller.message('a', { body: 'heartbeat', heartbeat: { generation: 1, taskStats: [], seq: 17 } });
    expect(a.sent).toEqual([{ heartbeatAck: { seq: 17 } }]);
  });

  it('revokes a task that a joining worker claims but another worker owns', () => {
    const { join, settle } = setup(2);
    join('a');
    settle();
    const b = join('b', [{ task: 0, acked: [] }]);
    expect(b.sent.some((m) => m.revoke?.task === 0 && m.revoke.reason === 'not-owner')).toBe(true);
  });

  it('offers a failed task again after a back-off', () => {
    const { controller, join, settle, advance, links } = setup(1);
    join('a');
    settle();
    const a = links.get('a') as FakeLink;
    controller.message('a', { body: 'taskFailed', taskFailed: { task: 0, generation: controller.tasks.generation, reason: 'boom' } });
    controller.tick();
    expect(a.assigned()).toEqual([]);
    expect(controller.view().tasks[0]).toMatchObject({ state: 'unassigned', lastFailure: 'a: boom' });
    advance(1_500);
    controller.tick();
    expect(a.assigned()).toEqual([0]);
  });
});

/** A checkpoint store whose manifest writes wait for `gate`. */
class GatedStore extends CheckpointStore {
  constructor(root: string, private readonly gate: Promise<void>) {
    super(root);
  }
  override async writeManifest(...args: Parameters<CheckpointStore['writeManifest']>): Promise<void> {
    await this.gate;
    return super.writeManifest(...args);
  }
}

/** Gives the controller a checkpoint coordinator whose latest complete checkpoint is `id`, with these owners. */
async function attachCheckpoints(controller: ClusterController, id: number, owners: [number, string, number][]): Promise<void> {
  const store = new CheckpointStore(mkdtempSync(joinPath(tmpdir(), 'eddy-ctl-')));
  const tasks: TaskCheckpoint[] = owners.map(([task, owner, generation]) => ({ task, owner, generation, snapshot: `s${task}`, bytes: 1, records: 1, offsets: {} }));
  await store.writeManifest({ format: 2, job: 'j', checkpointId: id, triggeredAtMs: 0, completedAtMs: 0, tasks });
  const checkpoints = new CheckpointCoordinator(
    { job: 'j', intervalMs: 1_000, timeoutMs: 5_000, retain: 3, store, clock: () => 0, logger: createLogger('test', 'silent') },
    controller.checkpointHost(),
  );
  await checkpoints.recover();
  controller.attachCheckpoints(checkpoints);
}

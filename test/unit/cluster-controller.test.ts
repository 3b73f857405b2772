import { describe, expect, it } from 'vitest';
import { ClusterController, type WorkerLink } from '../../coordinator/cluster-controller.ts';
import { createLogger } from '../../common/logger.ts';
import type { CoordinatorMessage, Hello__Output } from '../../proto/control.ts';

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

function setup(taskCount = 6, adoptGraceMs = 0) {
  let now = 1_000;
  const controller = new ClusterController({
    job: 'j', taskCount, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 1_500, revokeTimeoutMs: 5_000, adoptGraceMs,
    clock: () => now, logger: createLogger('test', 'silent'),
  });
  const links = new Map<string, FakeLink>();
  const join = (id: string, owned: number[] = [], lastGeneration = 0): FakeLink => {
    const link = new FakeLink();
    links.set(id, link);
    const hello: Hello__Output = { workerId: id, endpoint: `${id}:1`, capacity: 0, ownedTasks: owned, pid: 1, job: 'j', lastGeneration, lastCheckpoint: 0 };
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

  it('refuses a worker that runs another job', () => {
    const { controller } = setup();
    const link = new FakeLink();
    const ok = controller.hello({ workerId: 'x', endpoint: '', capacity: 0, ownedTasks: [], pid: 1, job: 'other', lastGeneration: 0, lastCheckpoint: 0 }, link);
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
    controller.message('a', { body: 'heartbeat', heartbeat: { generation: 1, taskStats: [] } });
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

  it('adopts the tasks a worker already runs when the coordinator is new, continuing its generation', () => {
    const { controller, join, advance } = setup(5, 2_000);
    const a = join('a', [0, 1], 41);
    const b = join('b', [2, 3], 40);
    expect(controller.tasks.generation).toBeGreaterThan(41);
    // Each gets its own tasks back under a new generation (a running worker just confirms).
    expect(a.assigned()).toEqual([0, 1]);
    expect(b.assigned()).toEqual([2, 3]);
    for (const [id, link] of [['a', a], ['b', b]] as const) {
      for (const m of link.take()) if (m.assign) controller.message(id, { body: 'taskReady', taskReady: { task: m.assign.task ?? 0, generation: Number(m.assign.generation) } });
    }
    expect(controller.view().tasks.map((t) => `${t.worker}:${t.state}`)).toEqual(['a:running', 'a:running', 'b:running', 'b:running', 'null:unassigned']);
    // Task 4 nobody claimed: assigned once the grace period is over, nothing else moves.
    for (const step of [1_000, 1_100]) {
      advance(step);
      for (const id of ['a', 'b']) controller.message(id, { body: 'heartbeat', heartbeat: { generation: 41, taskStats: [] } });
    }
    controller.tick();
    expect([...a.assigned(), ...b.assigned()]).toEqual([4]);
    expect(a.sent.some((m) => m.revoke) || b.sent.some((m) => m.revoke)).toBe(false);
  });

  it('revokes a task that a joining worker claims but another worker owns', () => {
    const { join, settle } = setup(2);
    join('a');
    settle();
    const b = join('b', [0]);
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
    advance(1_500);
    controller.tick();
    expect(a.assigned()).toEqual([0]);
  });
});

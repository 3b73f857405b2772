import { describe, expect, it } from 'vitest';
import { assignTasks, movedTasks, type Assignment } from '../../coordinator/assignment.ts';

function countsOf(assignment: Assignment): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of assignment.values()) counts.set(worker, (counts.get(worker) ?? 0) + 1);
  return counts;
}

function expectComplete(assignment: Assignment, taskCount: number, workers: string[]): void {
  expect([...assignment.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: taskCount }, (_, i) => i));
  for (const worker of assignment.values()) expect(workers).toContain(worker);
}

function expectBalanced(assignment: Assignment, workers: string[]): void {
  const counts = workers.map((w) => countsOf(assignment).get(w) ?? 0);
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
}

/**
 * The fewest moves any balanced assignment needs, computed independently of the algorithm:
 * every live worker can keep at most ⌊n/w⌋ tasks, and only n mod w of them one more.
 */
function lowerBoundOfMoves(taskCount: number, workers: string[], previous: Assignment): number {
  const base = Math.floor(taskCount / workers.length);
  const extra = taskCount % workers.length;
  const held = workers.map((w) => [...previous.values()].filter((owner) => owner === w).length);
  const overBase = held.filter((h) => h > base).length;
  return held.reduce((sum, h) => sum + Math.max(0, h - base), 0) - Math.min(extra, overBase);
}

/** Small seeded PRNG for reproducible random sequences in this test (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('assignTasks', () => {
  it('spreads 12 tasks over 3 workers, 4 each', () => {
    const a = assignTasks(12, ['w1', 'w2', 'w3'], new Map());
    expectComplete(a, 12, ['w1', 'w2', 'w3']);
    expect([...countsOf(a).values()]).toEqual([4, 4, 4]);
  });

  it('gives a dead worker\'s tasks to the survivors and moves nothing else', () => {
    const before = assignTasks(12, ['w1', 'w2', 'w3'], new Map());
    const after = assignTasks(12, ['w1', 'w3'], before);
    expectBalanced(after, ['w1', 'w3']);
    for (const [task, worker] of before) if (worker !== 'w2') expect(after.get(task)).toBe(worker);
    expect(movedTasks(before, after, ['w1', 'w3'])).toEqual([]);
  });

  it('moves only enough tasks to a joining worker to balance', () => {
    const before = assignTasks(12, ['w1', 'w2'], new Map());
    const after = assignTasks(12, ['w1', 'w2', 'w3'], before);
    expect(countsOf(after).get('w3')).toBe(4);
    expect(movedTasks(before, after, ['w1', 'w2', 'w3'])).toHaveLength(4);
  });

  it('is empty without workers, and gives everything to a single worker', () => {
    expect(assignTasks(12, [], new Map()).size).toBe(0);
    const one = assignTasks(5, ['solo'], new Map([[0, 'gone']]));
    expect([...one.values()]).toEqual(['solo', 'solo', 'solo', 'solo', 'solo']);
  });

  it('ignores tasks beyond the task count', () => {
    const a = assignTasks(2, ['w1'], new Map([[7, 'w1']]));
    expect([...a.keys()].sort()).toEqual([0, 1]);
  });

  it('stays complete, balanced and minimal over random join/leave sequences', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = random(seed);
      const taskCount = 1 + Math.floor(rand() * 40);
      let workers: string[] = ['w0'];
      let next = 1;
      let current: Map<number, string> = assignTasks(taskCount, workers, new Map());
      for (let step = 0; step < 40; step++) {
        if (workers.length > 1 && rand() < 0.45) {
          const leaving = Math.floor(rand() * workers.length);
          workers = workers.filter((_, i) => i !== leaving);
        } else {
          workers = [...workers, `w${next++}`];
        }
        const previous = current;
        current = assignTasks(taskCount, workers, previous);
        expectComplete(current, taskCount, workers);
        expectBalanced(current, workers);
        expect(movedTasks(previous, current, workers).length).toBe(lowerBoundOfMoves(taskCount, workers, previous));
      }
    }
  });
});

import { describe, expect, it } from 'vitest';
import { PublishLane } from '../../worker/publish-lane.ts';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

describe('PublishLane', () => {
  it('runs one step at a time in the order handed in, and a failed step does not block the next', async () => {
    const lane = new PublishLane();
    const log: string[] = [];
    let running = 0;
    const step = (name: string, fail = false) => async () => {
      running += 1;
      expect(running).toBe(1);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running -= 1;
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([lane.run(step('t0')), lane.run(step('t1', true)), lane.run(step('t2'))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start t0', 'end t0', 'start t1', 'end t1', 'start t2', 'end t2']);
  });
});

import { describe, it, expect } from 'vitest';
import { TICK_MAX_MS, TICK_MIN_MS, TokenBucket, type PacerClock } from '../../loadtest/cdc/token-bucket.ts';

/** A clock that only moves when the code under test sleeps (or the test says so). */
class ManualClock implements PacerClock {
  now = 0;
  readonly sleeps: number[] = [];
  nowMs(): number {
    return this.now;
  }
  sleepMs(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.now += ms;
    return Promise.resolve();
  }
}

async function drain(bucket: TokenBucket, clock: ManualClock, untilMs: number, max = Number.MAX_SAFE_INTEGER): Promise<number> {
  let taken = 0;
  while (clock.now < untilMs) taken += await bucket.take(max, undefined, untilMs);
  return taken;
}

describe('TokenBucket', () => {
  it.each([1, 50, 1000, 100_000])('grants close to but never more than %i tokens/s', async (rate) => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(rate, 250, clock);
    const taken = await drain(bucket, clock, 10_000);
    expect(taken).toBeLessThanOrEqual(rate * 10);
    expect(taken).toBeGreaterThanOrEqual(Math.floor(rate * 10 * 0.99) - 1);
  });

  it('sleeps in ticks between the minimum and the maximum, never spinning', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(1000, 250, clock);
    await drain(bucket, clock, 2000);
    expect(clock.sleeps.length).toBeGreaterThan(0);
    expect(Math.min(...clock.sleeps)).toBeGreaterThanOrEqual(TICK_MIN_MS);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(TICK_MAX_MS);
  });

  it('lets a slow consumer catch up by at most the burst allowance', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(1000, 250, clock);
    clock.now += 5000; // a send that stalled for 5 s
    expect(await bucket.take(1_000_000)).toBe(250);
  });

  it('honours max, the deadline and the abort signal', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(1000, 250, clock);
    clock.now += 100;
    expect(await bucket.take(7)).toBe(7);
    expect(await bucket.take(1_000_000, undefined, clock.now)).toBeGreaterThan(0);
    expect(await bucket.take(1_000_000, undefined, clock.now)).toBe(0);
    const controller = new AbortController();
    controller.abort();
    clock.now += 100;
    expect(await bucket.take(10, controller.signal)).toBe(0);
  });
});

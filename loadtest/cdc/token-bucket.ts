/**
 * Paces a producer to a target rate without a busy loop: tokens accrue at `ratePerSec`, a caller
 * takes whole tokens in batches, and when none is available it sleeps for one tick (10–50 ms).
 * The bucket holds at most `burstMs` worth of tokens, so the average never exceeds the rate and
 * a slow send can be caught up on only by that much. The clock is injected for tests.
 */

/** Time source and sleep, injected so that pacing can be tested without waiting. */
export type PacerClock = {
  nowMs(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleepMs(ms: number, signal?: AbortSignal): Promise<void>;
};

/** Shortest and longest sleep between two refills, ms. */
export const TICK_MIN_MS = 10;
export const TICK_MAX_MS = 50;

/** A token bucket over an injected clock. */
export class TokenBucket {
  private tokens = 0;
  private lastRefillMs: number;
  private readonly capacity: number;

  /**
   * @param ratePerSec tokens added per second (> 0)
   * @param burstMs how many ms of tokens the bucket may hold (the catch-up allowance)
   */
  constructor(
    private readonly ratePerSec: number,
    burstMs: number,
    private readonly clock: PacerClock,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be positive, got ${ratePerSec}`);
    this.capacity = Math.max(1, (ratePerSec * burstMs) / 1000);
    this.lastRefillMs = clock.nowMs();
  }

  /**
   * Takes between 1 and `max` tokens, sleeping in ticks until at least one is available.
   *
   * @param deadlineMs clock time after which to give up
   * @returns the tokens taken; 0 when `signal` aborted or the deadline passed first
   */
  async take(max: number, signal?: AbortSignal, deadlineMs = Infinity): Promise<number> {
    for (;;) {
      if (signal?.aborted) return 0;
      this.refill();
      const granted = Math.min(max, Math.floor(this.tokens));
      if (granted >= 1) {
        this.tokens -= granted;
        return granted;
      }
      const untilNextTokenMs = ((1 - this.tokens) * 1000) / this.ratePerSec;
      const untilDeadlineMs = deadlineMs - this.clock.nowMs();
      if (untilDeadlineMs <= 0) return 0;
      const tickMs = Math.min(Math.max(untilNextTokenMs, TICK_MIN_MS), TICK_MAX_MS, untilDeadlineMs);
      await this.clock.sleepMs(tickMs, signal);
    }
  }

  private refill(): void {
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.lastRefillMs) * this.ratePerSec) / 1000);
    this.lastRefillMs = now;
  }
}

/** The real clock: monotonic `performance.now()` and timers. */
export const systemClock: PacerClock = {
  nowMs: () => performance.now(),
  sleepMs: (ms, signal) =>
    new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

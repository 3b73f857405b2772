/**
 * The generator's only source of randomness: pure-rand's xoroshiro128+ behind a few helpers, so
 * that one seed fixes every choice and the same seed always gives the same event stream.
 */
import { unsafeUniformIntDistribution, xoroshiro128plus, type RandomGenerator } from 'pure-rand';

/** Seeds are 32-bit (xoroshiro128+ is seeded from 32 bits); larger ones would collide, so they are refused. */
export function assertValidSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${seed}`);
  }
}

/** A seeded random source. Not safe to share between generators: each draw advances it. */
export class SeededRandom {
  private readonly rng: RandomGenerator;

  /** @param seed an integer in [0, 2^32); see {@link assertValidSeed} */
  constructor(seed: number) {
    assertValidSeed(seed);
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** A uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return unsafeUniformIntDistribution(min, max, this.rng);
  }

  /** True with probability `percent`/100. */
  chance(percent: number): boolean {
    return this.int(0, 99) < percent;
  }

  /** A uniform element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new RangeError('pick from an empty array');
    return item;
  }

  /** An index chosen with probability proportional to its weight (weights are non-negative integers). */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((sum, w) => sum + w, 0);
    let ticket = this.int(0, total - 1);
    for (const [index, weight] of weights.entries()) {
      if (ticket < weight) return index;
      ticket -= weight;
    }
    throw new RangeError('weighted choice needs a positive total weight');
  }
}

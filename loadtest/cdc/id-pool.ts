/**
 * A set of row ids that supports a uniform random pick in O(1), which a Map cannot. The generator
 * keeps one per kind of row it may act on next (active users, open orders, …).
 */
import type { SeededRandom } from './random.ts';

/** Ids with O(1) add, delete, membership and random pick. Iteration order is not meaningful. */
export class IdPool {
  private readonly ids: number[] = [];
  private readonly indexOf = new Map<number, number>();

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.indexOf.has(id);
  }

  add(id: number): void {
    if (this.indexOf.has(id)) return;
    this.indexOf.set(id, this.ids.length);
    this.ids.push(id);
  }

  /** Removes `id` by moving the last id into its slot. */
  delete(id: number): void {
    const index = this.indexOf.get(id);
    if (index === undefined) return;
    const last = this.ids.pop();
    this.indexOf.delete(id);
    if (last === undefined || last === id) return;
    this.ids[index] = last;
    this.indexOf.set(last, index);
  }

  /** A uniformly chosen id, or undefined when the pool is empty. */
  pick(random: SeededRandom): number | undefined {
    if (this.ids.length === 0) return undefined;
    return this.ids[random.int(0, this.ids.length - 1)];
  }
}

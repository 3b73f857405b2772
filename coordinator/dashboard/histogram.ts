/**
 * Percentiles from Prometheus-style cumulative histograms, the way `histogram_quantile` reads
 * them: the difference of two snapshots is what was observed between them, summed over workers,
 * and a quantile is interpolated linearly inside the bucket it falls in.
 */
import type { HistogramSnapshot } from '../../worker/http-server.ts';

/** Observations per bucket boundary (cumulative), over some window. */
export type BucketCounts = Map<string, number>;

/** What `now` observed since `before` (a restarted worker, whose counts went down, counts from zero). */
export function histogramDelta(now: HistogramSnapshot, before: HistogramSnapshot | undefined): BucketCounts {
  const reset = before === undefined || now.count < before.count;
  const delta: BucketCounts = new Map();
  now.le.forEach((le, i) => {
    const previous = reset ? 0 : (before.counts[before.le.indexOf(le)] ?? 0);
    delta.set(le, Math.max(0, (now.counts[i] ?? 0) - previous));
  });
  return delta;
}

/** Adds `more` into `into`, bucket by bucket. */
export function addCounts(into: BucketCounts, more: BucketCounts): BucketCounts {
  for (const [le, count] of more) into.set(le, (into.get(le) ?? 0) + count);
  return into;
}

/**
 * The `q` quantile (0..1) in the histogram's unit, or undefined without observations. Falls in
 * the +Inf bucket: the highest finite boundary (as Prometheus answers).
 */
export function quantile(counts: BucketCounts, q: number): number | undefined {
  const buckets = [...counts.entries()]
    .map(([le, count]) => ({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lowerLe;
      if (count === lowerCount) return le;
      return lowerLe + ((le - lowerLe) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerLe = le;
    lowerCount = count;
  }
  return lowerLe;
}

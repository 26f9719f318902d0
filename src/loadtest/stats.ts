// Pure statistics of one side's load: percentiles of the answered requests' latencies, the error rate.
import type { LoadTestFigures } from "../api/v1alpha1/index.js";

/**
 * The q-quantile by the nearest-rank method: the smallest value with at least q of the values at or below it.
 *
 *   quantile([1, 2, 3, 4], 0.5) -> 2;  quantile([1..100], 0.99) -> 99;  quantile([], q) -> undefined
 */
export function quantile(sorted: ArrayLike<number>, q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** One side's raw outcome: latencies (ms) of the requests answered 2xx, and how many were sent and failed. */
export interface LoadOutcome {
  latenciesMs: number[];
  requests: number;
  errors: number;
}

/** The figures status.loadTest shows; memory (peak MiB of the busiest pod) comes from the pods' metrics. */
export function figuresOf(o: LoadOutcome, memory?: { peakBytes: number; pods: number }): LoadTestFigures {
  const sorted = Float64Array.from(o.latenciesMs).sort();
  const round = (x: number | undefined) => (x === undefined ? undefined : Math.round(x * 1000) / 1000);
  const p50 = round(quantile(sorted, 0.5));
  const p99 = round(quantile(sorted, 0.99));
  return {
    requests: o.requests,
    errors: o.errors,
    errorRate: o.requests === 0 ? 0 : Math.round((o.errors / o.requests) * 1e6) / 1e6,
    ...(p50 !== undefined ? { p50Ms: p50 } : {}),
    ...(p99 !== undefined ? { p99Ms: p99 } : {}),
    ...(memory && memory.pods > 0
      ? { memoryMiB: Math.round((memory.peakBytes / 1048576) * 10) / 10, pods: memory.pods }
      : {}),
  };
}

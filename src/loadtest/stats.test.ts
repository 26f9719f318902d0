import assert from "node:assert/strict";
import { test } from "node:test";
import { figuresOf, quantile } from "./stats.js";

test("quantile: nearest rank", () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  const cases: [ArrayLike<number>, number, number | undefined][] = [
    [[1, 2, 3, 4], 0.5, 2],
    [[1, 2, 3, 4], 0.99, 4],
    [[7], 0.5, 7],
    [[7], 0.99, 7],
    [hundred, 0.5, 50],
    [hundred, 0.99, 99],
    [hundred, 1, 100],
    [[], 0.5, undefined],
  ];
  for (const [xs, q, want] of cases) assert.equal(quantile(xs, q), want, `${q} of ${xs.length}`);
});

test("figuresOf: percentiles of the answered requests, the error rate of all sent, the busiest pod's peak in MiB", () => {
  const latenciesMs = Array.from({ length: 98 }, (_, i) => 98 - i); // unsorted on purpose
  assert.deepEqual(
    figuresOf({ latenciesMs, requests: 100, errors: 2 }, { peakBytes: 300 * 1048576 + 52429, pods: 2 }),
    {
      requests: 100,
      errors: 2,
      errorRate: 0.02,
      p50Ms: 49,
      p99Ms: 98,
      memoryMiB: 300.1,
      pods: 2,
    },
  );
  assert.deepEqual(figuresOf({ latenciesMs: [], requests: 10, errors: 10 }), {
    requests: 10,
    errors: 10,
    errorRate: 1,
  });
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { fitToGpuBudget, gpuShortfall } from "./gpu.js";

const oneGpu = { perCanaryPod: 1, perStablePod: 1 };

test("no cap, or no GPUs: the wanted counts as they are", () => {
  assert.deepEqual(fitToGpuBudget({ canary: 2, stable: 4 }, 4, 100, oneGpu), {
    counts: { canary: 2, stable: 4 },
    capped: false,
  });
  assert.deepEqual(
    fitToGpuBudget({ canary: 2, stable: 4 }, 4, 100, { maxSurge: 0, perCanaryPod: 0, perStablePod: 0 }),
    {
      counts: { canary: 2, stable: 4 },
      capped: false,
    },
  );
});

test("maxSurgeGPUs: stable gives back pods down to one below its traffic share, then the canary is cut", () => {
  const cases: [
    want: [number, number],
    total: number,
    stableServes: number,
    maxSurge: number,
    got: [number, number],
    capped: boolean,
  ][] = [
    // the worked example in gpu.ts: N=4, 1 GPU each, maxSurgeGPUs 0
    [[1, 4], 4, 100, 0, [1, 3], false],
    [[2, 4], 4, 75, 0, [2, 2], false],
    [[4, 4], 4, 50, 0, [3, 1], true],
    [[4, 4], 4, 0, 0, [4, 0], false],
    // one spare GPU: the first canary pod fits beside all of stable
    [[1, 4], 4, 100, 1, [1, 4], false],
    [[2, 4], 4, 100, 1, [2, 3], false],
    // a single stable pod cannot shrink while it serves traffic: the canary waits for a spare GPU
    [[1, 1], 1, 100, 0, [0, 1], true],
    [[1, 1], 1, 100, 1, [1, 1], false],
  ];
  for (const [[c, s], total, serves, maxSurge, [gc, gs], capped] of cases) {
    assert.deepEqual(
      fitToGpuBudget({ canary: c, stable: s }, total, serves, { ...oneGpu, maxSurge }),
      { counts: { canary: gc, stable: gs }, capped },
      `want ${c}+${s} N=${total} stable serves ${serves}% cap ${maxSurge}`,
    );
  }
});

test("pods with several GPUs, and a CPU stable revision", () => {
  // 2 GPUs per pod, N=4, cap 2: one extra pod's worth
  assert.deepEqual(
    fitToGpuBudget({ canary: 2, stable: 4 }, 4, 100, { maxSurge: 2, perCanaryPod: 2, perStablePod: 2 }),
    {
      counts: { canary: 2, stable: 3 },
      capped: false,
    },
  );
  // stable on CPU, candidate on 1 GPU each, cap 1: only one canary pod
  assert.deepEqual(
    fitToGpuBudget({ canary: 2, stable: 4 }, 4, 100, { maxSurge: 1, perCanaryPod: 1, perStablePod: 0 }),
    {
      counts: { canary: 1, stable: 4 },
      capped: true,
    },
  );
});

test("GPU shortfall compares new pods' GPUs with the free ones, crediting what stable gives back", () => {
  assert.equal(gpuShortfall({ canary: 0, stable: 4 }, { canary: 2, stable: 4 }, oneGpu, undefined), 0);
  assert.equal(gpuShortfall({ canary: 0, stable: 4 }, { canary: 2, stable: 4 }, oneGpu, 1), 1);
  assert.equal(gpuShortfall({ canary: 0, stable: 4 }, { canary: 2, stable: 3 }, oneGpu, 1), 0);
  assert.equal(gpuShortfall({ canary: 2, stable: 4 }, { canary: 2, stable: 4 }, oneGpu, 0), 0);
});

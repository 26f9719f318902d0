import assert from "node:assert/strict";
import { test } from "node:test";
import { canaryReplicaCounts, podRatioWeight } from "./replicas.js";

test("canary replica maths with a traffic router (the worked examples in replicas.ts)", () => {
  const cases: [total: number, weight: number, podRequired: boolean, canary: number, stable: number][] = [
    [4, 10, false, 1, 4],
    [10, 25, false, 3, 10],
    [4, 0, false, 0, 4],
    [4, 0, true, 1, 4],
    [4, 100, false, 4, 4],
    [3, 33, false, 1, 3],
    [3, 34, false, 2, 3],
    [0, 50, true, 0, 0], // scaled to zero: nothing to run
    [1, 1, false, 1, 1],
    [100, 1, false, 1, 100],
  ];
  for (const [total, w, podRequired, canary, stable] of cases) {
    assert.deepEqual(
      canaryReplicaCounts({
        total,
        canaryWeight: w,
        stableWeight: 100,
        trafficRouted: true,
        canaryPodRequired: podRequired,
      }),
      { canary, stable },
      `N=${total} w=${w}`,
    );
  }
});

test("canary replica maths without a router: the pod ratio is the weight (Argo's basic canary)", () => {
  const cases: [total: number, weight: number, canary: number, stable: number, served: number][] = [
    [5, 20, 1, 4, 20],
    [4, 10, 1, 4, 20], // granularity: 10% is not reachable with 4 pods
    [1, 20, 1, 1, 50],
    [5, 50, 3, 3, 50],
    [10, 30, 3, 7, 30],
    [4, 100, 4, 0, 100],
    [4, 0, 0, 4, 0],
  ];
  for (const [total, w, canary, stable, served] of cases) {
    const c = canaryReplicaCounts({
      total,
      canaryWeight: w,
      stableWeight: 100 - w,
      trafficRouted: false,
      canaryPodRequired: false,
    });
    assert.deepEqual(c, { canary, stable }, `N=${total} w=${w}`);
    assert.equal(podRatioWeight(c), served, `N=${total} w=${w} served`);
  }
});

test("without a router stable shrinks only by the weight the canary already serves", () => {
  // moving 20% -> 50% with N=10: canary grows to 5 at once, stable keeps its 8 until the canary is available
  assert.deepEqual(
    canaryReplicaCounts({
      total: 10,
      canaryWeight: 50,
      stableWeight: 80,
      trafficRouted: false,
      canaryPodRequired: false,
    }),
    { canary: 5, stable: 8 },
  );
});

test("autoscaling: counts follow N as the autoscaler moves spec.replicas", () => {
  const at = (total: number) =>
    canaryReplicaCounts({
      total,
      canaryWeight: 20,
      stableWeight: 100,
      trafficRouted: true,
      canaryPodRequired: false,
    });
  assert.deepEqual(at(2), { canary: 1, stable: 2 });
  assert.deepEqual(at(10), { canary: 2, stable: 10 });
  assert.deepEqual(at(11), { canary: 3, stable: 11 });
});

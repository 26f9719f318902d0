import assert from "node:assert/strict";
import { test } from "node:test";
import { canaryMD, Sim } from "../../rollout/testing/sim.js";
import type { RenderPlan } from "../plan.js";
import { gatewayAPIRouter, istioRouter, routerFor, serviceRouter } from "./router.js";

/** A plan straight from decide(): canary at 20% with a header route and a mirror. */
function planAtHeaderAndMirror(provider: "gatewayAPI" | "istio"): {
  plan: RenderPlan;
  md: ReturnType<typeof canaryMD>;
} {
  const sim = new Sim(
    canaryMD(
      [
        { setWeight: 20 },
        { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
        { setMirror: { percent: 30 } },
        { pause: {} },
      ],
      {
        traffic:
          provider === "istio"
            ? { provider: "istio" }
            : { provider: "gatewayAPI", parentRefs: [{ name: "gw" }] },
      },
    ),
  ).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.phase, "Paused");
  return { plan: sim.last.plan, md: sim.md };
}

for (const [provider, router] of [
  ["gatewayAPI", gatewayAPIRouter],
  ["istio", istioRouter],
] as const) {
  test(`${provider}: the rendered route reads back as the plan's weight, header route and mirror`, () => {
    const { plan, md } = planAtHeaderAndMirror(provider);
    assert.equal(routerFor(md), router);
    const live = router.desired(md, plan)!;
    assert.deepEqual(router.read(live), {
      canaryWeight: 20,
      headerRoute: { match: [{ name: "x-cohort", value: "beta", type: "Exact" }] },
      mirror: { percent: 30 },
    });
    assert.deepEqual(router.verify(live, plan), { ok: true, message: `${live.kind} carries canary 20%` });
    // a route still at the previous step does not verify
    const stale = router.desired(md, {
      ...plan,
      weights: { stable: 100, canary: 0 },
      mirror: undefined,
    } as RenderPlan)!;
    const v = router.verify(stale, plan);
    assert.equal(v.ok, false);
    assert.match(v.message, /canary weight 0%, want 20%; mirror 0%, want 30%/);
    assert.equal(router.verify(undefined, plan).ok, false);
  });
}

test("service: the weight is the ready-pod ratio", () => {
  const plan: RenderPlan = { revisions: [], weights: { stable: 80, canary: 20 } };
  plan.revisions.push({ role: "canary", replicas: 1, spec: undefined as never });
  assert.deepEqual(serviceRouter.read({ readyPods: { stable: 4, canary: 1 } }), { canaryWeight: 20 });
  assert.equal(serviceRouter.verify({ readyPods: { stable: 4, canary: 1 } }, plan).ok, true);
  assert.equal(serviceRouter.verify({ readyPods: { stable: 4, canary: 0 } }, plan).ok, false);
  assert.equal(serviceRouter.desired(undefined as never, plan), undefined);
});

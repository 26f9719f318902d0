import assert from "node:assert/strict";
import { test } from "node:test";
import { canaryMD, Sim } from "./testing/sim.js";

const steps = [
  { setWeight: 10 },
  { analysis: { templates: ["errors"] } },
  { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
  { setMirror: { percent: 50 } },
  { setWeight: 50 },
  { pause: { duration: "10m" } },
  { pause: {} },
];
const analysis = [{ name: "errors", metric: "errorRate", max: 0.01, interval: "1m", count: 2 }];

function started(
  opts: { steps?: unknown[]; spec?: Record<string, unknown>; rollout?: Record<string, unknown> } = {},
) {
  const sim = new Sim(canaryMD(opts.steps ?? steps, opts.spec, { analysis, ...opts.rollout })).settle();
  sim.release("v2");
  return sim;
}

test("a first deployment goes straight to stable and is recorded as Promoted once available", () => {
  const sim = new Sim(canaryMD(steps, {}, { analysis }));
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
  assert.equal(sim.last.status.phase, "Progressing");
  assert.equal(sim.last.status.stableRevision, sim.idOf("v1"));
  assert.equal(sim.md.status?.history?.length, 0);
  sim.decide();
  assert.equal(sim.last.status.phase, "Healthy");
  assert.equal(sim.md.status?.history?.length, 1);
  assert.equal(sim.md.status?.history?.[0]?.outcome, "Promoted");
  sim.decide();
  assert.equal(sim.md.status?.history?.length, 1, "recorded once");
  assert.deepEqual(sim.last.events, []);
});

test("canary walks every step type with the HTTPRoute weights of each, then promotes", () => {
  const sim = started();
  const v1 = sim.idOf("v1");
  const v2 = sim.idOf("v2");

  // step 1 setWeight 10: canary pods first (ceil(4 x 10%) = 1), traffic once they are available.
  sim.decide();
  assert.equal(sim.last.status.canaryRevision, v2);
  assert.equal(sim.last.status.stableRevision, v1);
  assert.deepEqual(sim.shape, { weight: 0, stable: 4, canary: 1 });
  assert.ok(sim.last.events.some((e) => e.reason === "RolloutStarted"));

  // pods ready -> weight 10 -> step 2 analysis asks for a measurement at once.
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 10, stable: 4, canary: 1 });
  assert.equal(sim.last.status.currentStepIndex, 1);
  assert.deepEqual(sim.last.measure, ["errors"]);
  assert.equal(sim.condition("Progressing")?.reason, "AnalysisRunning");

  sim.measure("errors", 0.001).decide();
  assert.deepEqual(sim.last.measure, [], "next measurement after the interval");
  assert.equal(sim.last.requeueAfterMs, 60_000);
  sim.advance(60_000).decide();
  assert.deepEqual(sim.last.measure, ["errors"]);
  sim.measure("errors", 0.002).decide();

  // analysis passed -> header route -> mirror -> setWeight 50 needs 2 canary pods.
  assert.equal(sim.last.status.currentStepIndex, 4);
  assert.deepEqual(sim.last.plan.headerRoute, {
    match: [{ name: "x-cohort", value: "beta", type: "Exact" }],
  });
  assert.deepEqual(sim.last.plan.mirror, { percent: 50 });
  assert.deepEqual(sim.shape, { weight: 10, stable: 4, canary: 2 });

  // 50% -> timed pause
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 50, stable: 4, canary: 2 });
  assert.equal(sim.last.status.currentStepIndex, 5);
  assert.equal(sim.last.status.phase, "Paused");
  assert.equal(sim.last.requeueAfterMs, 600_000);
  sim.advance(300_000).decide();
  assert.equal(sim.last.status.currentStepIndex, 5, "5 of 10 minutes");
  sim.advance(300_000).decide();

  // indefinite pause: nothing moves until promote.
  assert.equal(sim.last.status.currentStepIndex, 6);
  assert.equal(sim.condition("Paused")?.status, "True");
  assert.equal(sim.condition("Paused")?.reason, "PausedByStep");
  assert.equal(sim.last.requeueAfterMs, undefined);
  sim.advance(86_400_000).decide();
  assert.equal(sim.last.status.currentStepIndex, 6);

  sim.request("promote").decide();
  // promoting: canary to N while it still has 50%.
  assert.deepEqual(sim.shape, { weight: 50, stable: 4, canary: 4 });
  assert.equal(sim.condition("Progressing")?.reason, "Promoting");
  sim.decide();
  assert.equal(sim.last.status.stableRevision, v2);
  assert.equal(sim.last.status.canaryRevision, undefined);
  assert.equal(sim.last.status.phase, "Healthy");
  // the old stable keeps its pods for the scale-down delay, with no Service of its own.
  assert.deepEqual(sim.shape, { weight: 0, stable: 4, old: 4 });
  assert.deepEqual(sim.last.plan.headerRoute, undefined);
  const outcomes = sim.md.status?.history?.map((h) => `${h.revision === v1 ? "v1" : "v2"} ${h.outcome}`);
  assert.deepEqual(outcomes, ["v1 Promoted", "v1 Superseded", "v2 Promoted"]);
  sim.advance(30_000).decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
  assert.deepEqual(sim.last.prune, [v1]);
});

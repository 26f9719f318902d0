import assert from "node:assert/strict";
import { test } from "node:test";
import type { AnalysisRun } from "./analysis-run.js";
import { canarySteps, promotion, runStep, settle, type CanaryPods, type StepContext } from "./canary.js";
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

// The step handlers, one table each: (the step, where the walk stands) -> what the step did.

const router = (total: number, available: number): CanaryPods => ({
  total,
  available,
  routed: true,
  budget: { perCanaryPod: 0, perStablePod: 0 },
});
const gpuCap = (total: number, available: number, maxSurge = 0): CanaryPods => ({
  ...router(total, available),
  budget: { maxSurge, perCanaryPod: 1, perStablePod: 1 },
});

function at(over: Partial<StepContext> = {}): StepContext {
  return {
    index: 0,
    count: 3,
    traffic: { weight: 0 },
    counts: { canary: 0, stable: 4 },
    pods: router(4, 0),
    promote: false,
    sinceStepMs: 0,
    name: "fraud",
    candidate: "c1",
    analyze: () => assert.fail("not an analysis step"),
    loadTest: () => assert.fail("not a loadTest step"),
    ...over,
  };
}

const podsWait = (message: string, maxSurge?: string) => ({
  kind: "wait",
  wait: { on: "pods", reason: "WaitingForReplicas", message, ...(maxSurge ? { maxSurge } : {}) },
});

test("settle: the maxSurgeGPUs walk of docs/rollouts.md, reconcile by reconcile", () => {
  // N=4, one GPU per pod, maxSurgeGPUs 0, steps setWeight 25, setWeight 50, then promotion.
  const rows: [
    available: number,
    from: number,
    to: number,
    canary: number,
    stable: number,
    weight: number,
  ][] = [
    [0, 0, 25, 1, 3, 0], // 1: one stable pod makes room for the first canary pod
    [1, 0, 25, 1, 3, 25], // 2: it is available: 25% ...
    [1, 25, 50, 2, 2, 25], // ... and the next step asks for a second canary pod
    [2, 25, 50, 2, 2, 50], // 3: 50% ...
    [2, 50, 100, 3, 1, 50], // ... and promotion is capped at 3 canary pods
    [3, 50, 100, 4, 0, 100], // 4: the last pod, one short, as maxUnavailable 1
    [4, 100, 100, 4, 0, 100], // 5: promoted
  ];
  for (const [available, from, to, canary, stable, weight] of rows) {
    const r = settle(gpuCap(4, available), from, to, false);
    assert.deepEqual(
      { canary: r.counts.canary, stable: r.counts.stable, weight: r.weight },
      { canary, stable, weight },
      `${available} available, ${from} -> ${to}`,
    );
  }
});

test("setWeight: canary pods for the weight first, the traffic once they are available", () => {
  const cases: [
    what: string,
    s: Partial<StepContext>,
    w: number,
    counts: { canary: number; stable: number },
    weight: number,
    outcome: unknown,
  ][] = [
    [
      "router, pods not yet available",
      { pods: router(4, 0) },
      25,
      { canary: 1, stable: 4 },
      0,
      podsWait("step 1/3: 0/1 canary replicas available"),
    ],
    [
      "router, pods available",
      { pods: router(4, 1) },
      25,
      { canary: 1, stable: 4 },
      25,
      advance("setWeight 25"),
    ],
    [
      "service: stable shrinks only by the weight already handed over",
      { pods: { ...router(5, 1), routed: false } },
      20,
      { canary: 1, stable: 5 },
      20,
      advance("setWeight 20"),
    ],
    [
      "a mirror (or header route) needs a canary pod at weight 0",
      { traffic: { weight: 0, mirror: { percent: 10 } }, pods: router(4, 0) },
      0,
      { canary: 1, stable: 4 },
      0,
      podsWait("step 1/3: 0/1 canary replicas available"),
    ],
    [
      "a GPU cap that stable can make room under",
      { pods: gpuCap(4, 0) },
      25,
      { canary: 1, stable: 3 },
      0,
      podsWait("step 1/3: 0/1 canary replicas available"),
    ],
    [
      "a GPU cap that leaves no room: maxSurgeGPUs is named",
      { pods: gpuCap(1, 0), counts: { canary: 0, stable: 1 } },
      50,
      { canary: 0, stable: 1 },
      0,
      podsWait(
        "step 1/3: 0/0 canary replicas available",
        "the canary needs more GPUs than maxSurgeGPUs 0 allows beside stable (0 canary, 1 stable pods of 1/1 GPUs): raise spec.rollout.maxSurgeGPUs",
      ),
    ],
  ];
  for (const [what, s, w, counts, weight, outcome] of cases) {
    const r = canarySteps.setWeight(w, at(s));
    assert.deepEqual(r.counts, counts, what);
    assert.equal(r.traffic.weight, weight, what);
    assert.deepEqual(r.outcome, outcome, what);
  }
});

test("setHeaderRoute and setMirror: on at once, done when one canary pod can take the requests", () => {
  const match = [{ name: "x-cohort", value: "beta", type: "Exact" as const }];
  for (const available of [0, 1]) {
    const h = canarySteps.setHeaderRoute({ match }, at({ pods: router(4, available) }));
    assert.deepEqual(h.traffic, { weight: 0, headerRoute: { match } });
    assert.deepEqual(h.counts, { canary: 1, stable: 4 });
    assert.deepEqual(
      h.outcome,
      available ? advance("setHeaderRoute") : podsWait("step 1/3: 0/1 canary replicas available"),
    );
    const m = canarySteps.setMirror(
      { percent: 30 },
      at({ traffic: { weight: 10, headerRoute: { match } }, pods: router(10, available) }),
    );
    assert.deepEqual(m.traffic, { weight: 10, headerRoute: { match }, mirror: { percent: 30 } });
    assert.deepEqual(m.counts, { canary: 1, stable: 10 });
    assert.deepEqual(
      m.outcome,
      available ? advance("setMirror 30") : podsWait("step 1/3: 0/1 canary replicas available"),
    );
  }
});

test("pause: until its duration has passed or until promoted, holding the canary's pods for its weight", () => {
  const cases: [what: string, pause: { duration?: string }, s: Partial<StepContext>, outcome: unknown][] = [
    [
      "until promoted",
      {},
      {},
      {
        kind: "wait",
        wait: {
          on: "pause",
          reason: "PausedByStep",
          message: "paused at step 1/3 until promoted: run modelship promote fraud",
        },
      },
    ],
    ["promoted", {}, { promote: true }, advance("pause, promoted")],
    [
      "4 of 10 minutes",
      { duration: "10m" },
      { sinceStepMs: 240_000 },
      {
        kind: "wait",
        wait: { on: "pause", reason: "PausedByStep", message: "paused at step 1/3 for 10m", forMs: 360_000 },
      },
    ],
    ["10 of 10 minutes", { duration: "10m" }, { sinceStepMs: 600_000 }, advance("pause 10m")],
    ["promoted before the time is up", { duration: "10m" }, { promote: true }, advance("pause, promoted")],
  ];
  for (const [what, pause, s, outcome] of cases) {
    const r = canarySteps.pause(pause, at({ traffic: { weight: 25 }, pods: router(4, 1), ...s }));
    assert.deepEqual(r.outcome, outcome, what);
    assert.equal(r.usedPromote, s.promote ? true : undefined, what);
    assert.deepEqual(r.counts, { canary: 1, stable: 4 }, what);
    assert.deepEqual(r.traffic, { weight: 25 }, what);
  }
});

test("analysis: Successful advances, Failed fails, Inconclusive pauses, Running measures; promote ends it", () => {
  const run = (phase: AnalysisRun["phase"]): AnalysisRun => ({
    phase,
    due: phase === "Running" ? ["errors"] : [],
    summary: `errors ${phase}`,
  });
  const cases: [phase: AnalysisRun["phase"], promote: boolean, outcome: unknown][] = [
    ["Successful", false, advance("analysis: errors Successful")],
    ["Failed", false, { kind: "fail", reason: "AnalysisFailed", message: "errors Failed" }],
    [
      "Inconclusive",
      false,
      {
        kind: "wait",
        wait: {
          on: "pause",
          reason: "AnalysisInconclusive",
          message:
            "analysis at step 2 is inconclusive: errors Inconclusive; run modelship promote to go on or modelship abort",
        },
      },
    ],
    [
      "Running",
      false,
      { kind: "wait", wait: { on: "analysis", run: run("Running"), message: "step 2/3: errors Running" } },
    ],
    ["Failed", true, advance("analysis, promoted")],
    ["Running", true, advance("analysis, promoted")],
  ];
  for (const [phase, promote, outcome] of cases) {
    const asked: string[][] = [];
    const r = canarySteps.analysis(
      { templates: ["errors"] },
      at({ index: 1, promote, analyze: (t) => (asked.push(t), run(phase)) }),
    );
    assert.deepEqual(r.outcome, outcome, `${phase} promote=${promote}`);
    assert.deepEqual(asked, [["errors"]], "measurements are folded in even when promoted");
  }
});

test("promotion after the last step: the canary at N pods, then promoted", () => {
  const s = { index: 3, count: 3, traffic: { weight: 50 } };
  const waiting = promotion(at({ ...s, pods: router(4, 2) }));
  assert.deepEqual(waiting.counts, { canary: 4, stable: 4 });
  assert.deepEqual(waiting.outcome, {
    kind: "wait",
    wait: { on: "pods", reason: "Promoting", message: "scaling revision c1 to 4 replicas (2 available)" },
  });
  assert.equal(waiting.traffic.weight, 50, "the weight stays until every pod is there");
  assert.deepEqual(promotion(at({ ...s, pods: router(4, 4) })).outcome, {
    kind: "promote",
    why: "all steps completed",
  });
});

test("runStep picks the handler by the step's field; an empty step passes; past the end is promotion", () => {
  const s = at({ counts: { canary: 2, stable: 3 }, pods: router(4, 4), traffic: { weight: 40 } });
  assert.deepEqual(runStep({}, s), {
    traffic: { weight: 40 },
    counts: { canary: 2, stable: 3 },
    outcome: advance("empty step"),
  });
  assert.deepEqual(runStep({ setWeight: 60 }, s).outcome, advance("setWeight 60"));
  assert.deepEqual(runStep({ pause: {} }, s).outcome.kind, "wait");
  assert.deepEqual(runStep(undefined, at({ index: 3, pods: router(4, 4) })).outcome.kind, "promote");
});

function advance(what: string) {
  return { kind: "advance", what };
}

import assert from "node:assert/strict";
import { test } from "node:test";
import type { LoadTestFigures, LoadTestStatus } from "../api/v1alpha1/index.js";
import type { LoadTestPlan } from "../render/plan.js";
import { loadTestRunId, loadTestStep } from "./loadtest.js";
import { canaryMD, parseMD, Sim } from "./testing/sim.js";
import { formatStatus } from "./view.js";

// The loadTest step: its handler as a table, then walked through decide() with the Job's status write
// played by the test (the Job itself runs in e2e/loadtest.test.ts).

const spec = {
  rate: 50,
  duration: "1m",
  requestTimeoutMs: 5000,
  maxP99Ms: 250,
  maxMemoryMiB: 512,
} as LoadTestPlan["spec"];
const plan: LoadTestPlan = {
  runId: "c1.2.1767225600",
  step: 2,
  spec,
  candidate: { id: "c1", role: "canary" },
  stable: "s1",
  deadlineSeconds: 660,
};
const figures = (over: Partial<LoadTestFigures> = {}): LoadTestFigures => ({
  requests: 3000,
  errors: 0,
  errorRate: 0,
  p50Ms: 4.2,
  p99Ms: 31,
  memoryMiB: 180,
  pods: 1,
  ...over,
});
const status = (over: Partial<LoadTestStatus> = {}): LoadTestStatus => ({
  runId: plan.runId,
  revision: "c1",
  step: 2,
  phase: "Completed",
  candidate: figures(),
  verdict: "Passed",
  ...over,
});

test("loadTestRunId: revision, step (preview for blue-green) and the step's start in seconds", () => {
  assert.equal(loadTestRunId("fb4a3823d0", 2, "2026-01-01T00:00:00.000Z"), "fb4a3823d0.2.1767225600");
  assert.equal(loadTestRunId("fb4a3823d0", -1, "2026-01-01T00:00:01.500Z"), "fb4a3823d0.preview.1767225601");
});

test("loadTestStep: waits for its own run's result, passes within the limits, fails naming the figure and its limit", () => {
  const step = (st: LoadTestStatus | undefined, sinceStepMs = 60_000) =>
    loadTestStep({ plan, status: st, sinceStepMs, mdName: "fraud", at: "step 3/4" });
  const running = {
    kind: "wait",
    wait: {
      on: "loadTest",
      plan,
      message: "step 3/4: load test of the canary at 50/s for 1m (Job fraud-loadtest-" + "",
    },
  };
  const cases: [string, LoadTestStatus | undefined, (o: ReturnType<typeof step>) => void][] = [
    ["no result yet", undefined, (o) => assert.equal(o.kind === "wait" && o.wait.on, "loadTest")],
    [
      "a result of another run (before a retry)",
      status({ runId: "c1.2.1767000000", phase: "Completed", verdict: "Failed" }),
      (o) => assert.equal(o.kind === "wait" && o.wait.on, "loadTest"),
    ],
    [
      "this run, still running",
      status({ phase: "Running" }),
      (o) => assert.equal(o.kind === "wait" && o.wait.on, "loadTest"),
    ],
    [
      "within the limits",
      status(),
      (o) =>
        assert.deepEqual(o, {
          kind: "advance",
          what: "loadTest: candidate p50 4.2 ms, p99 31 ms, 0/3000 errors, memory 180 MiB",
        }),
    ],
    [
      "p99 over its limit",
      status({ candidate: figures({ p99Ms: 312 }) }),
      (o) =>
        assert.deepEqual(o, {
          kind: "fail",
          reason: "LoadTestFailed",
          message: "loadTest: candidate p99 312 ms > maxP99Ms 250",
        }),
    ],
    [
      "the rollout judges the figures with the spec's limits, whatever verdict the Job wrote",
      status({ candidate: figures({ memoryMiB: 800 }), verdict: "Passed" }),
      (o) =>
        assert.deepEqual(o, {
          kind: "fail",
          reason: "LoadTestFailed",
          message: "loadTest: candidate memory 800 MiB > maxMemoryMiB 512",
        }),
    ],
    [
      "the Job could not measure",
      status({
        phase: "Error",
        message: "GET http://fraud-canary/v2/models/fraud answered 404",
        candidate: undefined,
      }),
      (o) => {
        assert.equal(o.kind, "wait");
        if (o.kind !== "wait" || o.wait.on !== "pause") return assert.fail("a pause");
        assert.equal(o.wait.reason, "LoadTestInconclusive");
        assert.match(
          o.wait.message,
          /^step 3\/4: the load test could not run: GET .* answered 404 \(Job fraud-loadtest-[0-9a-f]{10}\); run modelship promote fraud/,
        );
      },
    ],
  ];
  for (const [what, st, check] of cases) {
    const o = step(st);
    if (o.kind === "wait" && o.wait.on === "loadTest")
      assert.ok(o.wait.message.startsWith(running.wait.message), what);
    check(o);
  }
  // no result by the deadline (one side: 1m + 10m to start) -> a pause for a person, not a rollback
  const late = step(undefined, 11 * 60_000 + 1);
  assert.ok(late.kind === "wait" && late.wait.on === "pause", "paused");
  assert.match(
    late.kind === "wait" ? late.wait.message : "",
    /no load-test result after 11m: see Job fraud-loadtest-/,
  );
  assert.equal(step(undefined, 11 * 60_000).kind, "wait");
});

test("canary: the loadTest step starts one canary pod with no traffic, renders the Job's plan, and goes on once its run passed", () => {
  const sim = new Sim(
    canaryMD([{ loadTest: { rate: 20, duration: "30s", maxP99Ms: 250 } }, { setWeight: 50 }]),
  ).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  const d = sim.last;
  assert.deepEqual(sim.shape, { weight: 0, stable: 4, canary: 1 });
  const lt = d.plan.loadTest!;
  assert.ok(lt, "the plan asks for the load-test Job");
  assert.equal(lt.step, 0);
  assert.deepEqual(lt.candidate, { id: sim.idOf("v2"), role: "canary" });
  assert.equal(lt.stable, sim.idOf("v1"));
  assert.equal(
    lt.deadlineSeconds,
    30 + 600,
    "one side's 30s and 10m to start: the Job's activeDeadlineSeconds",
  );
  assert.equal(lt.runId, loadTestRunId(sim.idOf("v2"), 0, d.status.rollout.stepStartedAt as string));
  assert.equal(sim.condition("Progressing")?.reason, "LoadTestRunning");
  assert.equal(d.requeueAfterMs, 15_000);
  // the same plan on every reconcile while it runs: the Job is applied unchanged
  sim.advance(10_000).decide();
  assert.deepEqual(sim.last.plan.loadTest, lt);

  sim.md.status!.loadTest = { ...status(), runId: lt.runId, revision: lt.candidate.id, step: 0 };
  sim.advance(1000).decide();
  assert.equal(sim.last.plan.loadTest, undefined, "the Job goes with the step");
  assert.equal(sim.md.status?.currentStepIndex, 1);
  assert.ok(
    sim.last.events.some((e) => e.reason === "StepCompleted" && /loadTest: candidate p50/.test(e.message)),
  );
  for (let i = 0; i < 4; i++) sim.advance(1000).decide();
  assert.equal(sim.md.status?.modelVersion, "v2", "promoted after the last step");
});

test("canary: a failed load test rolls back with the figure and its limit, and a retry waits for a new run", () => {
  const sim = new Sim(canaryMD([{ loadTest: { rate: 20, duration: "30s", maxP99Ms: 250 } }])).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  const lt = sim.last.plan.loadTest!;
  sim.md.status!.loadTest = { ...status({ candidate: figures({ p99Ms: 312 }) }), runId: lt.runId, step: 0 };
  sim.advance(1000).decide();
  assert.equal(sim.md.status?.phase, "RolledBack");
  const rolledBack = sim.condition("RolledBack");
  assert.equal(rolledBack?.reason, "LoadTestFailed");
  assert.match(
    rolledBack?.message ?? "",
    /\(LoadTestFailed\): loadTest: candidate p99 312 ms > maxP99Ms 250;/,
  );
  assert.equal(sim.last.plan.loadTest, undefined);
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });

  sim.advance(60_000).request("retry").decide();
  sim.decide();
  const again = sim.last.plan.loadTest!;
  assert.ok(again, "the retried candidate is tested again");
  assert.notEqual(again.runId, lt.runId, "a new run: the failed result is not taken for it");
  assert.equal(sim.condition("Progressing")?.reason, "LoadTestRunning");
});

test("blue-green: the pre-promotion load test runs on the preview Service once the preview is ready, then the switch waits for promote", () => {
  const md = parseMD({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: "payments", generation: 1 },
    spec: {
      model: { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" },
      replicas: 2,
      rollout: {
        strategy: "blueGreen",
        blueGreen: { loadTest: { rate: 10, duration: "30s", maxErrorRate: 0, maxP99RatioToStable: 1.5 } },
      },
    },
  });
  const sim = new Sim(md).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  const lt = sim.last.plan.loadTest!;
  assert.deepEqual(lt.candidate, { id: sim.idOf("v2"), role: "preview" });
  assert.equal(lt.step, -1);
  assert.deepEqual(sim.shape, { weight: 0, stable: 2, preview: 2 });

  sim.md.status!.loadTest = {
    ...status({ candidate: figures({ p99Ms: 40 }), stable: figures({ p99Ms: 30 }) }),
    runId: lt.runId,
    step: -1,
  };
  sim.advance(1000).decide();
  assert.equal(sim.last.plan.loadTest, undefined);
  assert.equal(sim.condition("Paused")?.reason, "WaitingForPromotion");

  // the same figures with p99 at 2x stable's fail maxP99RatioToStable 1.5
  sim.md.status!.loadTest = {
    ...sim.md.status!.loadTest,
    candidate: figures({ p99Ms: 60 }),
  };
  sim.advance(1000).decide();
  assert.equal(sim.condition("RolledBack")?.reason, "LoadTestFailed");
  assert.match(
    sim.condition("RolledBack")?.message ?? "",
    /loadTest: candidate p99 60 ms > maxP99RatioToStable 1\.5 x stable's 30 ms/,
  );
});

test("modelship status shows the step and the load test's figures and verdict", () => {
  const sim = new Sim(canaryMD([{ loadTest: { rate: 20, duration: "30s", maxP99Ms: 250 } }])).settle();
  sim.release("v2");
  sim.decide();
  sim.decide();
  const lt = sim.last.plan.loadTest!;
  sim.md.status!.loadTest = {
    ...status({ candidate: figures({ p99Ms: 312 }), verdict: "Failed" }),
    runId: lt.runId,
    revision: lt.candidate.id,
    step: 0,
    message: "candidate p99 312 ms > maxP99Ms 250",
  };
  const text = formatStatus(sim.md, sim.now);
  assert.match(text, /▶ +1\. loadTest 20\/s for 30s/);
  assert.match(text, new RegExp(`Load test \\(step 1, revision ${lt.candidate.id}\\): Completed, Failed`));
  assert.match(text, /candidate +3000 +0 +4\.20 +312 +180/);
  assert.match(text, / {2}candidate p99 312 ms > maxP99Ms 250/);
});

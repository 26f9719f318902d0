import assert from "node:assert/strict";
import { test } from "node:test";
import { reasons } from "./conditions.js";
import { templatesDue } from "./due.js";
import { canaryMD, parseMD, Sim } from "./testing/sim.js";

const steps = [
  { setWeight: 20 },
  { pause: {} },
  { analysis: { templates: ["errors", "latency"] } },
  { setHeaderRoute: { match: [{ name: "x-cohort", value: "beta" }] } },
  { setMirror: { percent: 25 } },
  { setWeight: 60 },
  { pause: { duration: "1m" } },
];
const analysis = [
  { name: "errors", metric: "errorRate", max: 0.05, interval: "30s", count: 1, failureLimit: 0 },
  {
    name: "latency",
    metric: "latencyP95",
    maxRelativeToStable: 1.5,
    interval: "30s",
    count: 1,
    inconclusiveLimit: 0,
  },
];

function rollout(
  opts: { spec?: Record<string, unknown>; rollout?: Record<string, unknown>; steps?: unknown[] } = {},
) {
  const sim = new Sim(canaryMD(opts.steps ?? steps, opts.spec, { analysis, ...opts.rollout })).settle();
  sim.release("v2");
  return sim;
}

/** Drives the rollout until it stands at step k (0-based), answering analysis and promoting pauses. */
function walkTo(sim: Sim, k: number) {
  for (let n = 0; n < 40; n++) {
    sim.decide();
    const i = sim.last.status.currentStepIndex ?? 0;
    if (i >= k && sim.last.status.canaryRevision) return;
    if (sim.last.measure.length) {
      for (const t of sim.last.measure) sim.measure(t, 0.01, 0.01);
      continue;
    }
    if (sim.condition("Paused")?.status === "True") sim.request("promote");
    else sim.advance(30_000);
  }
  throw new Error(`did not reach step ${k}`);
}

test("abort at every step rolls back: all traffic to stable, candidate pruned, Aborted recorded, idempotent", () => {
  for (let k = 0; k <= steps.length; k++) {
    const sim = rollout();
    const v1 = sim.idOf("v1");
    const v2 = sim.idOf("v2");
    walkTo(sim, k);
    sim.request("abort").decide();
    const at = `abort at step ${k}`;
    assert.equal(sim.last.status.phase, "RolledBack", at);
    assert.deepEqual(sim.shape, { weight: 0, stable: 4 }, at);
    assert.equal(sim.last.plan.headerRoute, undefined, at);
    assert.equal(sim.last.plan.mirror, undefined, at);
    assert.deepEqual(sim.last.prune, [v2], at);
    assert.equal(sim.last.status.stableRevision, v1, at);
    assert.equal(sim.condition("RolledBack")?.status, "True", at);
    assert.equal(sim.condition("RolledBack")?.reason, reasons.aborted, at);
    assert.equal(sim.md.status?.history?.at(-1)?.outcome, "Aborted", at);
    assert.ok(
      sim.last.events.some((e) => e.type === "Warning" && e.reason === "RolloutAborted"),
      at,
    );
    // the same annotation again, and time passing, change nothing
    const before = JSON.stringify(sim.last.plan);
    const historyLength = sim.md.status?.history?.length;
    sim.advance(3_600_000).decide();
    assert.equal(JSON.stringify(sim.last.plan), before, at);
    assert.equal(sim.md.status?.history?.length, historyLength, at);
    assert.deepEqual(sim.last.events, [], at);
    assert.equal(sim.last.status.phase, "RolledBack", at);
  }
});

test("retry after an abort starts the same candidate again from step 0", () => {
  const sim = rollout();
  walkTo(sim, 3);
  sim.request("abort").decide();
  sim.request("retry").decide();
  assert.equal(sim.last.status.canaryRevision, sim.idOf("v2"));
  assert.equal(sim.last.status.currentStepIndex, 0);
  assert.ok(sim.last.events.some((e) => e.reason === "RolloutRetried"));
  assert.equal(sim.condition("RolledBack")?.status, "False");
  sim.decide();
  assert.equal(sim.shape.weight, 20);
});

test("promote mid-pause ends only that pause; a timed pause can be promoted too; full: skips to promotion", () => {
  const sim = rollout();
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.currentStepIndex, 1);
  assert.equal(sim.last.status.phase, "Paused");
  sim.request("promote").decide();
  assert.equal(sim.last.status.currentStepIndex, 2, "now analysing");
  assert.deepEqual(sim.last.measure, ["errors", "latency"]);
  assert.equal(sim.last.status.phase, "Progressing");

  // a timed pause
  walkTo(sim, 6);
  assert.equal(sim.last.status.currentStepIndex, 6);
  sim.request("promote").decide();
  assert.equal(sim.condition("Progressing")?.reason, reasons.promoting);

  // full promotion from step 1
  const full = rollout();
  full.decide();
  full.decide();
  full.request("promote", "full:abc").decide();
  assert.equal(full.condition("Progressing")?.reason, reasons.promoting);
  assert.deepEqual(full.shape, { weight: 20, stable: 4, canary: 4 });
  full.decide();
  assert.equal(full.last.status.stableRevision, full.idOf("v2"));
});

test("a promote request is acted on once: the same nonce never skips a later pause", () => {
  const sim = rollout({ steps: [{ pause: {} }, { pause: {} }] });
  sim.decide();
  sim.request("promote", "one").decide();
  assert.equal(sim.last.status.currentStepIndex, 1);
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.currentStepIndex, 1, "still paused at the second pause");
  sim.request("promote", "two").decide();
  assert.equal(sim.condition("Progressing")?.reason, reasons.promoting);
});

test("a promote made while healthy is consumed and does not skip the next rollout's pause", () => {
  const sim = new Sim(canaryMD([{ pause: {} }])).settle();
  sim.request("promote").decide();
  sim.release("v2");
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.phase, "Paused");
});

test("a spec change mid-rollout restarts from step 0 with the new candidate; the old one is Superseded and pruned", () => {
  const sim = rollout();
  walkTo(sim, 5);
  const v2 = sim.idOf("v2");
  sim.release("v3").decide();
  const v3 = sim.idOf("v3");
  assert.equal(sim.last.status.canaryRevision, v3);
  assert.equal(sim.last.status.currentStepIndex, 0);
  assert.deepEqual(sim.last.prune, [v2]);
  assert.equal(sim.last.plan.headerRoute, undefined, "header route of the old candidate is gone");
  assert.equal(sim.shape.weight, 0, "traffic waits for the new canary pods");
  assert.ok(sim.md.status?.history?.some((h) => h.revision === v2 && h.outcome === "Superseded"));
  assert.ok(sim.last.events.some((e) => e.reason === "RolloutRestarted"));
  sim.decide();
  assert.equal(sim.shape.weight, 20);
});

test("autoscaling mid-rollout: the canary's share follows spec.replicas", () => {
  const sim = rollout({
    spec: { replicas: 4, autoscaling: { minReplicas: 2, maxReplicas: 20, cpuUtilization: 70 } },
  });
  sim.decide();
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 20, stable: 4, canary: 1 });
  sim.md.spec.replicas = 10; // the HPA scaled up through the scale subresource
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 20, stable: 10, canary: 2 });
  sim.md.spec.replicas = 2;
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 20, stable: 2, canary: 1 });
});

test("failed analysis rolls back automatically with reason AnalysisFailed", () => {
  const sim = rollout();
  walkTo(sim, 2);
  sim.measure("errors", 0.2).measure("latency", 0.1, 0.1).decide();
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.equal(sim.condition("RolledBack")?.reason, reasons.analysisFailed);
  assert.match(sim.condition("RolledBack")?.message ?? "", /errors Failed/);
  assert.equal(sim.md.status?.history?.at(-1)?.outcome, "RolledBack");
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
});

test("autoRollback off: a failed analysis holds the rollout Degraded until promote or abort", () => {
  const sim = rollout({ rollout: { autoRollback: false } });
  walkTo(sim, 2);
  sim.measure("errors", 0.2).measure("latency", 0.1, 0.1).decide();
  assert.equal(sim.last.status.phase, "Degraded");
  assert.deepEqual(sim.shape, { weight: 20, stable: 4, canary: 1 }, "traffic stays where it was");
  assert.equal(sim.condition("Paused")?.reason, reasons.analysisFailed);
  sim.decide();
  assert.equal(sim.last.status.phase, "Degraded");
  assert.deepEqual(sim.last.events, []);
  sim.request("promote").decide();
  assert.equal(sim.last.status.currentStepIndex, 5, "past the analysis, header route and mirror");
});

test("inconclusive analysis pauses; promote goes on", () => {
  const sim = rollout();
  walkTo(sim, 2);
  sim.measure("errors", 0.01).measure("latency", 0.1).decide(); // no stable value -> inconclusive, limit 0
  assert.equal(sim.last.status.phase, "Paused");
  assert.equal(sim.condition("Paused")?.reason, reasons.analysisInconclusive);
  sim.request("promote").decide();
  assert.equal(sim.last.status.currentStepIndex, 5, "past the analysis, header route and mirror");
});

test("measurements older than the analysis step, or handed in twice, count once", () => {
  const sim = rollout({
    steps: [{ analysis: { templates: ["errors"] } }],
    rollout: { analysis: [{ ...analysis[0], count: 2 }] },
  });
  sim.measure("errors", 0.9); // before the step began
  sim.advance(1000).decide();
  assert.deepEqual(sim.last.measure, ["errors"]);
  sim.measure("errors", 0.01).decide();
  sim.decide(); // same measurements again
  const book = sim.md.status?.rollout as { analysis: { results: unknown[] } };
  assert.equal(book.analysis.results.length, 1);
  assert.deepEqual(templatesDue(sim.md, sim.now), []);
  sim.advance(30_000);
  assert.deepEqual(templatesDue(sim.md, sim.now), ["errors"]);
});

test("candidate pods failing roll back with PodsFailed", () => {
  const sim = rollout();
  sim.health.set("v2", "failing");
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.equal(sim.condition("RolledBack")?.reason, reasons.podsFailed);
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
});

test("a candidate that never becomes ready is rolled back after progressDeadlineSeconds", () => {
  const sim = rollout({ rollout: { progressDeadlineSeconds: 120 } });
  sim.health.set("v2", "pending");
  sim.decide();
  sim.advance(60_000).decide();
  assert.equal(sim.last.status.phase, "Progressing");
  sim.advance(61_000).decide();
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.equal(sim.condition("RolledBack")?.reason, reasons.progressDeadlineExceeded);
});

test("no GPU capacity: the rollout waits with WaitingForCapacity instead of failing or starving stable", () => {
  const gpu = { resources: { cpu: "1", memory: "2Gi", gpu: { count: 1 } } };
  const sim = rollout({ spec: gpu, rollout: { progressDeadlineSeconds: 60 } });
  sim.health.set("v2", "unschedulable");
  sim.freeGPUs = 0;
  sim.decide();
  assert.equal(sim.condition("WaitingForCapacity")?.status, "True");
  assert.equal(sim.condition("WaitingForCapacity")?.reason, reasons.insufficientGPU);
  assert.ok(sim.last.events.some((e) => e.reason === "WaitingForCapacity"));
  sim.advance(3_600_000).decide();
  assert.equal(sim.last.status.phase, "Progressing", "no rollback while waiting for capacity");
  assert.deepEqual(
    sim.shape,
    { weight: 0, stable: 4, canary: 1 },
    "stable untouched, the canary pod stays Pending",
  );
  assert.deepEqual(sim.last.events, [], "the event is sent once");
  sim.health.set("v2", "ready");
  sim.freeGPUs = 1;
  sim.decide();
  sim.decide();
  assert.equal(sim.condition("WaitingForCapacity")?.status, "False");
  assert.equal(sim.shape.weight, 20);
});

test("maxSurgeGPUs 0 on a router: the canary takes GPUs from stable one pod at a time and completes", () => {
  const sim = rollout({
    spec: { resources: { cpu: "1", memory: "2Gi", gpu: { count: 1 } } },
    rollout: { maxSurgeGPUs: 0 },
    steps: [{ setWeight: 25 }, { setWeight: 50 }],
  });
  const shapes: string[] = [];
  for (let n = 0; (n < 12 && sim.last.status.canaryRevision !== undefined) || n === 0; n++) {
    sim.decide();
    const s = sim.shape;
    shapes.push(`${s.weight}% c${s.canary ?? 0} s${s.stable}`);
    const gpus = (s.canary ?? 0) + (s.stable ?? 0);
    if (sim.last.status.canaryRevision) assert.ok(gpus <= 4, `never above 4 GPUs: ${shapes.join(", ")}`);
  }
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"), shapes.join(", "));
  assert.deepEqual(shapes.slice(0, 5), ["0% c1 s3", "25% c2 s2", "50% c3 s1", "100% c4 s0", "0% c0 s4"]);
});

test("maxSurgeGPUs 0 with a single GPU pod: waits with reason MaxSurgeGPUs", () => {
  const sim = rollout({
    spec: { replicas: 1, resources: { cpu: "1", memory: "2Gi", gpu: { count: 1 } } },
    rollout: { maxSurgeGPUs: 0 },
  });
  sim.decide();
  assert.equal(sim.condition("WaitingForCapacity")?.reason, reasons.maxSurgeGPUs);
  assert.deepEqual(sim.shape, { weight: 0, stable: 1, canary: 0 });
});

test("plain Service provider: weights approximated by the replica ratio", () => {
  const sim = rollout({
    spec: { replicas: 4, traffic: { provider: "service" } },
    steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
  });
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 4, canary: 1 });
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 20, stable: 4, canary: 1 }, "1 of 5 pods: 20%, not 10%");
  sim.request("promote").decide();
  assert.deepEqual(sim.shape, { weight: 20, stable: 4, canary: 2 });
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 50, stable: 2, canary: 2 });
});

test("plain Service provider, setMirror with no weight: one canary pod for the copies, weight 0 (it stays out of the endpoint)", () => {
  const sim = rollout({
    spec: { replicas: 4, traffic: { provider: "service" } },
    steps: [{ setMirror: { percent: 50 } }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
  });
  sim.decide();
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 4, canary: 1 }, "the ready canary pod takes copies only");
  assert.deepEqual(sim.last.plan.mirror, { percent: 50 });
  sim.request("promote").decide();
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 50, stable: 2, canary: 2 }, "with a weight, the pod ratio again");
});

test("drift verdict with action rollback after promotion restores the previous revision", () => {
  const monitoring = {
    drift: { schedule: "0 * * * *", baselineUri: "pvc://store/fraud/baseline.json", action: "rollback" },
  };
  const sim = rollout({ spec: { monitoring }, steps: [{ setWeight: 50 }] });
  const v1 = sim.idOf("v1");
  const v2 = sim.idOf("v2");
  for (let n = 0; n < 6; n++) sim.advance(1000).decide();
  assert.equal(sim.last.status.stableRevision, v2);
  sim.advance(60_000).decide(); // the scale-down delay passed: v1's Deployment is gone
  assert.equal(sim.observed.has(v1), false);

  // a verdict from before the promotion is about v1: ignored
  sim.md.status!.drift = { verdict: "drift", lastRun: "2025-12-31T00:00:00.000Z", score: 0.4 };
  sim.decide();
  assert.equal(sim.last.status.stableRevision, v2);

  sim.md.status!.drift = {
    verdict: "drift",
    lastRun: sim.now.toISOString(),
    score: 0.4,
    message: "amount drifted",
  };
  sim.advance(1000).decide();
  assert.equal(sim.last.status.stableRevision, v1);
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.equal(sim.condition("RolledBack")?.reason, reasons.driftDetected);
  assert.deepEqual(sim.shape, { weight: 0, stable: 4 });
  assert.equal(sim.last.plan.revisions[0]?.spec.model.version, "v1", "re-created from the remembered spec");
  assert.deepEqual(sim.last.prune, [v2]);
  assert.equal(sim.md.status?.history?.at(-1)?.outcome, "RolledBack");
  // stays rolled back, and a new release rolls out over v1
  sim.advance(1000).decide();
  assert.equal(sim.last.status.stableRevision, v1);
  assert.deepEqual(sim.last.events, []);
  sim.release("v3").decide();
  assert.equal(sim.last.status.canaryRevision, sim.idOf("v3"));
  assert.equal(sim.last.status.stableRevision, v1);
});

test("a drift verdict with action alert does not roll back", () => {
  const monitoring = { drift: { schedule: "0 * * * *", baselineUri: "pvc://store/fraud/baseline.json" } };
  const sim = rollout({ spec: { monitoring }, steps: [{ setWeight: 50 }] });
  for (let n = 0; n < 6; n++) sim.advance(1000).decide();
  sim.md.status!.drift = { verdict: "drift", lastRun: sim.now.toISOString() };
  sim.advance(1000).decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"));
});

function blueGreen(bg: Record<string, unknown> = {}, rollout: Record<string, unknown> = {}) {
  const md = parseMD({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: "payments" },
    spec: {
      model: { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" },
      replicas: 3,
      rollout: { strategy: "blueGreen", blueGreen: bg, analysis, ...rollout },
    },
  });
  const sim = new Sim(md).settle();
  sim.release("v2");
  return sim;
}

test("blue-green: full-size preview, manual promotion, old revision kept for scaleDownDelaySeconds", () => {
  const sim = blueGreen({ scaleDownDelaySeconds: 60 });
  sim.decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 3, preview: 3 });
  assert.equal(sim.last.status.phase, "Progressing");
  sim.decide();
  assert.equal(sim.last.status.phase, "Paused");
  assert.equal(sim.condition("Paused")?.reason, reasons.waitingForPromotion);
  sim.advance(3_600_000).decide();
  assert.equal(sim.last.status.phase, "Paused");
  sim.request("promote").decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"));
  assert.deepEqual(sim.shape, { weight: 0, stable: 3, old: 3 });
  sim.advance(59_000).decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 3, old: 3 });
  assert.equal(sim.last.requeueAfterMs, 1000);
  sim.advance(1000).decide();
  assert.deepEqual(sim.shape, { weight: 0, stable: 3 });
  assert.deepEqual(sim.last.prune, [sim.idOf("v1")]);
});

test("blue-green: a promote asked for before the preview is ready applies once it is", () => {
  const sim = blueGreen();
  sim.health.set("v2", "pending");
  sim.request("promote").decide();
  sim.decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v1"));
  sim.health.set("v2", "ready");
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"));
});

test("blue-green: autoPromote after autoPromoteAfterSeconds, with pre-promotion analysis", () => {
  const sim = blueGreen({
    autoPromote: true,
    autoPromoteAfterSeconds: 120,
    analysis: { templates: ["errors"] },
  });
  sim.decide();
  sim.decide();
  assert.deepEqual(sim.last.measure, ["errors"]);
  sim.measure("errors", 0.001).decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v1"));
  assert.equal(sim.last.requeueAfterMs, 120_000);
  sim.advance(120_000).decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"));
});

test("blue-green: failed pre-promotion analysis rolls the preview back; abort too", () => {
  const sim = blueGreen({ autoPromote: true, analysis: { templates: ["errors"] } });
  sim.decide();
  sim.decide();
  sim.measure("errors", 0.9).decide();
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.deepEqual(sim.shape, { weight: 0, stable: 3 });

  const ab = blueGreen();
  ab.decide();
  ab.request("abort").decide();
  assert.equal(ab.last.status.phase, "RolledBack");
  assert.equal(ab.condition("RolledBack")?.reason, reasons.aborted);
});

test("blue-green with GPUs: maxSurgeGPUs below a full preview waits with a clear reason", () => {
  const sim = blueGreen({}, { maxSurgeGPUs: 2 });
  sim.md.spec.resources.gpu = { count: 1, tolerateTaint: true };
  sim.decide();
  assert.equal(sim.condition("WaitingForCapacity")?.reason, reasons.maxSurgeGPUs);
  assert.deepEqual(sim.shape, { weight: 0, stable: 3, preview: 2 });
});

function rolling() {
  const md = parseMD({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: "payments" },
    spec: { model: { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" }, replicas: 2 },
  });
  const sim = new Sim(md).settle();
  sim.release("v2");
  return sim;
}

test("rolling: abort and failed pods roll back to the previous stable revision", () => {
  const sim = rolling();
  sim.health.set("v2", "pending");
  sim.decide();
  sim.request("abort").decide();
  assert.equal(sim.last.status.phase, "RolledBack");
  assert.deepEqual(sim.shape, { weight: 0, stable: 2 });
  assert.equal(sim.last.plan.revisions[0]?.spec.model.version, "v1");

  const failing = rolling();
  failing.health.set("v2", "failing");
  failing.decide();
  failing.decide();
  assert.equal(failing.condition("RolledBack")?.reason, reasons.podsFailed);
});

test("rolling: a promotion is remembered for drift rollback", () => {
  const sim = rolling();
  sim.md.spec.monitoring = {
    drift: {
      schedule: "0 * * * *",
      baselineUri: "pvc://x/b.json",
      action: "rollback",
      window: "1h",
      psiThreshold: 0.2,
      pValue: 0.05,
    },
  };
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v2"));
  sim.md.status!.drift = { verdict: "drift", lastRun: new Date(sim.now.getTime() + 1000).toISOString() };
  sim.advance(2000).decide();
  assert.equal(sim.last.status.stableRevision, sim.idOf("v1"));
});

test("decide is pure: the same context and time give the same decision", () => {
  const sim = rollout();
  walkTo(sim, 2);
  const md = structuredClone(sim.md);
  const a = JSON.stringify(sim.decide());
  sim.md = md;
  sim.measurements = [];
  const b = JSON.stringify(sim.decide());
  assert.equal(a, b);
});

test("rolling: GPU pods that cannot be scheduled show WaitingForCapacity and are not rolled back", () => {
  const sim = rolling();
  const v1 = sim.md.status?.stableRevision;
  sim.md.spec.resources.gpu = { count: 1, tolerateTaint: true };
  sim.health.set("v2", "unschedulable");
  sim.decide();
  sim.advance(3_600_000).decide();
  assert.equal(sim.condition("WaitingForCapacity")?.status, "True");
  assert.equal(sim.condition("WaitingForCapacity")?.reason, reasons.insufficientGPU);
  assert.equal(sim.condition("RolledBack")?.status, "False");
  assert.equal(sim.last.status.phase, "Progressing");
  assert.equal(sim.last.status.stableRevision, v1, "the old revision keeps serving");
});

test("a promote while a weight step waits for pods is reported, not silently dropped", () => {
  const sim = rollout();
  sim.health.set("v2", "pending");
  sim.decide();
  sim.request("promote").decide();
  assert.ok(sim.last.events.some((e) => e.reason === "PromoteIgnored"));
  assert.equal(sim.last.status.currentStepIndex, 0);
});

test("blue-green analysis naming a missing template pauses with a clear message instead of failing reconcile", () => {
  const sim = blueGreen({ autoPromote: true, analysis: { templates: ["nosuch"] } });
  sim.decide();
  sim.decide();
  assert.equal(sim.last.status.phase, "Paused");
  assert.equal(sim.condition("Paused")?.reason, reasons.analysisInconclusive);
  assert.match(sim.condition("Paused")?.message ?? "", /nosuch is not in spec.rollout.analysis/);
  assert.deepEqual(templatesDue(sim.md, sim.now), []);
});

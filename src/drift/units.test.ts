// Small pure pieces: corrections, PSI, special functions, durations, bins, quality, status patch.
import assert from "node:assert/strict";
import { test } from "node:test";
import { binEdges } from "./baseline-builder.js";
import { chi2Sf } from "./chi2.js";
import { parseDuration } from "./duration.js";
import { adjustPValues } from "./multiple-testing.js";
import { psi } from "./psi.js";
import { classificationMetrics, QualityAccumulator } from "./quality.js";
import type { DriftReport } from "./report.js";
import { lgamma } from "./special.js";
import { buildEvent, buildStatusPatch, conditionFor } from "./status-patch.js";
import { binOf } from "./values.js";
import { roundHalfEven } from "./ks.js";

test("multiple-testing corrections match their definitions (worked example)", () => {
  const p = [0.01, 0.04, 0.03, 0.2];
  assert.deepEqual(adjustPValues(p, "bonferroni"), [0.04, 0.16, 0.12, 0.8]);
  // Holm: sorted 0.01*4, 0.03*3, 0.04*2, 0.2*1, made monotone.
  assert.deepEqual(
    adjustPValues(p, "holm").map((x) => +x.toFixed(12)),
    [0.04, 0.09, 0.09, 0.2],
  );
  // Benjamini-Hochberg: 0.01*4/1, 0.03*4/2, 0.04*4/3, 0.2*4/4, made monotone from the top.
  assert.deepEqual(
    adjustPValues(p, "bh").map((x) => +x.toFixed(12)),
    [0.04, 0.053333333333, 0.053333333333, 0.2],
  );
  assert.deepEqual(adjustPValues([NaN, 0.5], "holm").slice(1), [0.5]);
});

test("PSI by formula: a worked example and the epsilon floor", () => {
  const e = [0.25, 0.25, 0.5];
  const a = [0.2, 0.3, 0.5];
  const expected = (0.2 - 0.25) * Math.log(0.2 / 0.25) + (0.3 - 0.25) * Math.log(0.3 / 0.25);
  assert.ok(Math.abs(psi(e, a) - expected) < 1e-15);
  assert.equal(psi([1, 1], [1, 1]), 0);
  assert.ok(Number.isFinite(psi([10, 0], [0, 10])));
  assert.ok(Number.isNaN(psi([0, 0], [1, 1])));
});

test("special functions and helpers at known values", () => {
  assert.ok(Math.abs(lgamma(0.5) - Math.log(Math.sqrt(Math.PI))) < 1e-14);
  assert.ok(Math.abs(lgamma(101) - 363.73937555556347) < 1e-10);
  assert.ok(Math.abs(chi2Sf(3.841458820694124, 1) - 0.05) < 1e-12);
  assert.ok(Math.abs(chi2Sf(2, 2) - Math.exp(-1)) < 1e-15);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(-2.5), -2);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.throws(() => parseDuration("1x"), /not a duration/);
  assert.throws(() => parseDuration(""), /not a duration/);
  assert.deepEqual(binEdges([1, 2, 2, 2, 3, 4], 4), [2, 2.75]);
  assert.equal(binOf([1, 2, 3], 0), 0);
  assert.equal(binOf([1, 2, 3], 1), 1);
  assert.equal(binOf([1, 2, 3], 3.5), 3);
});

test("quality metrics: binary with probabilities, multi-class macro, regression", () => {
  const q = new QualityAccumulator();
  for (const [t, p] of [
    [1, 0.9],
    [1, 0.4],
    [0, 0.2],
    [0, 0.7],
    [true, 0.8],
  ] as const)
    q.add(t, p);
  const m = q.metrics("classification")!;
  assert.equal(m.accuracy, 3 / 5);
  assert.equal(m.precision, 2 / 3);
  assert.equal(m.recall, 2 / 3);
  const multi = classificationMetrics([
    ["a", "a", 2],
    ["a", "b", 1],
    ["b", "b", 1],
    ["c", "a", 1],
  ])!;
  assert.equal(multi.accuracy, 3 / 5);
  // precision a=2/3, b=1/2, c=0; recall a=2/3, b=1, c=0.
  assert.ok(Math.abs(multi.precision! - (2 / 3 + 1 / 2) / 3) < 1e-15);
  assert.ok(Math.abs(multi.recall! - (2 / 3 + 1) / 3) < 1e-15);
  const r = new QualityAccumulator();
  r.add(1, 2);
  r.add(3, 1);
  const rm = r.metrics("regression")!;
  assert.equal(rm.rmse, Math.sqrt(2.5));
  assert.equal(rm.mae, 1.5);
});

function report(verdict: DriftReport["verdict"], psis: number[]): DriftReport {
  return {
    apiVersion: "modelship.io/v1alpha1",
    kind: "DriftReport",
    formatVersion: 1,
    model: "fraud",
    generatedAt: "2026-01-01T01:00:00.000Z",
    window: { since: "2026-01-01T00:00:00.000Z", until: "2026-01-01T01:00:00.000Z" },
    baseline: { uri: "s3://b/k" },
    settings: {
      psiThreshold: 0.2,
      pValue: 0.05,
      correction: "holm",
      missingRateJump: 0.1,
      outOfRangeRate: 0.01,
      accuracyDrop: 0.05,
      rmseIncrease: 0.2,
    },
    verdict,
    score: 0.25,
    reasons: verdict === "ok" ? [] : ["1 of 4 features drifted: f3"],
    counts: {
      lines: 1,
      events: 1,
      rows: 1,
      withoutFeatures: 0,
      failed: 0,
      feedback: 0,
      outsideWindow: 0,
      invalid: 0,
      schemaChecked: 1,
      otherTypes: 0,
    },
    features: psis.map((p, i) => ({
      name: `f${i}`,
      type: "numeric",
      verdict: p >= 0.2 ? "drift" : "ok",
      count: 1,
      present: 1,
      missingRate: 0,
      baselineMissingRate: 0,
      psi: p,
    })),
    integrity: { ok: true, issues: [], unexpectedFields: [], invalidSamples: [] },
    notEvaluated: [],
  };
}

test("status patch: drift summary, condition transitions, bounded findings, event", () => {
  const now = new Date("2026-01-01T01:00:05Z");
  const target = { namespace: "ml", name: "fraud" };
  const psis = Array.from({ length: 20 }, (_, i) => (i === 3 ? 0.5 : i / 100));
  const patch = buildStatusPatch(
    report("drift", psis),
    target,
    { generation: 7 },
    now,
    "s3://reports/r.json",
  );
  assert.equal(patch.kind, "ModelDeployment");
  assert.deepEqual(patch.metadata, { name: "fraud", namespace: "ml" });
  const d = patch.status.drift;
  assert.equal(d.verdict, "drift");
  assert.equal(d.features.length, 16);
  assert.deepEqual(d.features[0], { name: "f3", statistic: "psi", value: 0.5, drifted: true });
  assert.equal(d.features[1]!.name, "f19");
  assert.equal(d.reportRef, "s3://reports/r.json");
  const c = patch.status.conditions[0]!;
  assert.deepEqual(
    { type: c.type, status: c.status, reason: c.reason, t: c.lastTransitionTime, g: c.observedGeneration },
    { type: "DriftDetected", status: "True", reason: "DriftDetected", t: now.toISOString(), g: 7 },
  );
  // Same status again: lastTransitionTime is kept; a flip moves it.
  const kept = conditionFor(
    report("drift", psis),
    { condition: { status: "True", lastTransitionTime: "2025-12-31T00:00:00Z" } },
    now,
  );
  assert.equal(kept.lastTransitionTime, "2025-12-31T00:00:00Z");
  const flipped = conditionFor(
    report("ok", [0.01]),
    { condition: { status: "True", lastTransitionTime: "2025-12-31T00:00:00Z" } },
    now,
  );
  assert.equal(flipped.status, "False");
  assert.equal(flipped.reason, "NoDriftDetected");
  assert.equal(flipped.lastTransitionTime, now.toISOString());
  assert.equal(conditionFor(report("error", []), {}, now).status, "Unknown");
  const ev = buildEvent(report("drift", psis), { ...target, uid: "u1" }, now);
  assert.equal(ev.type, "Warning");
  assert.equal(ev.involvedObject.uid, "u1");
  assert.match(ev.metadata.name, /^fraud\.drift\.[0-9a-f]+$/);
  assert.equal(buildEvent(report("ok", [0.01]), target, now).type, "Normal");
});

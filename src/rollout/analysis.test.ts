import assert from "node:assert/strict";
import { test } from "node:test";
import { AnalysisTemplate } from "../api/v1alpha1/index.js";
import { combinePhases, judgeMeasurement, templatePhase } from "./analysis.js";
import type { MeasurementRecord } from "./book.js";

const tmpl = (t: Record<string, unknown>) => AnalysisTemplate.parse({ name: "t", metric: "errorRate", ...t });
const at = "2026-01-01T00:00:00.000Z";

test("a measurement against max and maxRelativeToStable", () => {
  const cases: [
    t: Record<string, unknown>,
    value: number | undefined,
    stable: number | undefined,
    phase: string,
  ][] = [
    [{ max: 0.01 }, 0.005, undefined, "Successful"],
    [{ max: 0.01 }, 0.01, undefined, "Successful"], // at the threshold passes
    [{ max: 0.01 }, 0.02, undefined, "Failed"],
    [{ max: 0.01 }, undefined, undefined, "Inconclusive"],
    [{ max: 0.01 }, NaN, undefined, "Inconclusive"], // 0/0 from a rate without traffic
    [{ maxRelativeToStable: 1.2 }, 0.11, 0.1, "Successful"],
    [{ maxRelativeToStable: 1.2 }, 0.13, 0.1, "Failed"],
    [{ maxRelativeToStable: 1.2 }, 0.13, undefined, "Inconclusive"],
    [{ maxRelativeToStable: 1.2 }, 0.001, 0, "Failed"], // stable 0: any positive value fails
    [{ maxRelativeToStable: 1.2 }, 0, 0, "Successful"],
    [{ max: 0.5, maxRelativeToStable: 1.2 }, 0.3, undefined, "Successful"], // max alone decides without stable
    [{ max: 0.5, maxRelativeToStable: 1.2 }, 0.3, 0.2, "Failed"],
    [{ max: 0.5, maxRelativeToStable: 2 }, 0.6, 0.5, "Failed"],
  ];
  for (const [t, value, stableValue, phase] of cases) {
    const r = judgeMeasurement(tmpl(t), {
      template: "t",
      time: at,
      ...(value !== undefined ? { value } : {}),
      ...(stableValue !== undefined ? { stableValue } : {}),
    });
    assert.equal(r.phase, phase, `${JSON.stringify(t)} value ${value} stable ${stableValue}: ${r.message}`);
  }
});

test("a template's phase: failureLimit, inconclusiveLimit, count", () => {
  const rec = (phases: string) =>
    [...phases].map((p, i): MeasurementRecord => ({
      template: "t",
      time: String(i),
      phase: p === "s" ? "Successful" : p === "f" ? "Failed" : "Inconclusive",
      message: "",
    }));
  const t = tmpl({ max: 1, count: 3, failureLimit: 1, inconclusiveLimit: 1 });
  const cases: [string, string][] = [
    ["", "Running"],
    ["s", "Running"],
    ["sss", "Successful"],
    ["sfs", "Successful"], // one failure tolerated
    ["ff", "Failed"],
    ["sfsf", "Failed"],
    ["isi", "Inconclusive"],
    ["sis", "Successful"],
    ["fii", "Inconclusive"],
  ];
  for (const [phases, want] of cases) assert.equal(templatePhase(t, rec(phases)), want, phases);
  assert.equal(templatePhase(tmpl({ max: 1, count: 1, failureLimit: 0 }), rec("f")), "Failed");
});

test("templates together", () => {
  assert.equal(combinePhases(["Successful", "Successful"]), "Successful");
  assert.equal(combinePhases(["Successful", "Running"]), "Running");
  assert.equal(combinePhases(["Inconclusive", "Running"]), "Inconclusive");
  assert.equal(combinePhases(["Inconclusive", "Failed"]), "Failed");
  assert.equal(combinePhases([]), "Successful");
});

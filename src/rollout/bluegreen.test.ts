import assert from "node:assert/strict";
import { test } from "node:test";
import type { AnalysisRun } from "./analysis-run.js";
import { preview, switchOver } from "./bluegreen.js";

// The blue-green step handlers, one table each. decide.test.ts walks them through simulated time.

test("preview: done when every preview pod is available and the GPU cap leaves room for all of them", () => {
  const budget = { maxSurge: 1, perCanaryPod: 1, perStablePod: 0 };
  const base = { candidate: "c1", total: 3, capped: false, observed: true, available: 3, budget };
  const waiting = (available: number, maxSurge?: string) => ({
    kind: "wait",
    wait: {
      on: "pods",
      reason: "WaitingForReplicas",
      message: `preview revision c1: ${available}/3 replicas available`,
      ...(maxSurge ? { maxSurge } : {}),
    },
  });
  const cases: [what: string, over: Partial<typeof base>, outcome: unknown][] = [
    ["all available", {}, { kind: "advance", what: "preview ready" }],
    ["2 of 3", { available: 2 }, waiting(2)],
    ["no Deployment yet", { observed: false, available: 0 }, waiting(0)],
    [
      "maxSurgeGPUs too small for a full preview",
      { capped: true, available: 0 },
      waiting(
        0,
        "blue-green needs 3 extra GPUs for a full preview but maxSurgeGPUs is 1: raise spec.rollout.maxSurgeGPUs or use the canary strategy",
      ),
    ],
  ];
  for (const [what, over, outcome] of cases) assert.deepEqual(preview({ ...base, ...over }), outcome, what);
});

test("switchOver: analysis first, then promote by hand, automatically, or after a countdown", () => {
  const run = (phase: AnalysisRun["phase"]): AnalysisRun => ({
    phase,
    due: phase === "Running" ? ["errors"] : [],
    summary: `errors ${phase}`,
  });
  const analysis = { templates: ["errors"] };
  const manual = { autoPromote: false, previewService: true, scaleDownDelaySeconds: 30 };
  const byHand = { kind: "promote", why: "promoted with modelship promote", scaleDownDelaySeconds: 30 };
  const auto = { kind: "promote", why: "preview ready, promoted automatically", scaleDownDelaySeconds: 30 };
  const cases: [
    what: string,
    bg: Partial<Parameters<typeof switchOver>[0]["bg"]>,
    s: { promote?: boolean; readyForMs?: number; phase?: AnalysisRun["phase"] },
    outcome: unknown,
  ][] = [
    [
      "manual: waits for promote",
      {},
      {},
      {
        kind: "wait",
        wait: {
          on: "pause",
          reason: "WaitingForPromotion",
          message: "preview revision c1 is ready at fraud-preview: run modelship promote fraud",
        },
      },
    ],
    [
      "manual, no preview Service",
      { previewService: false },
      {},
      {
        kind: "wait",
        wait: {
          on: "pause",
          reason: "WaitingForPromotion",
          message: "preview revision c1 is ready: run modelship promote fraud",
        },
      },
    ],
    ["manual, promoted", {}, { promote: true }, byHand],
    ["autoPromote", { autoPromote: true }, {}, auto],
    [
      "autoPromoteAfterSeconds 60, ready for 20s",
      { autoPromoteAfterSeconds: 60 },
      { readyForMs: 20_000 },
      {
        kind: "wait",
        wait: {
          on: "timer",
          reason: "WaitingForPromotion",
          message: "promoting automatically in 40s",
          forMs: 40_000,
        },
      },
    ],
    [
      "autoPromoteAfterSeconds 60, ready for 60s",
      { autoPromoteAfterSeconds: 60 },
      { readyForMs: 60_000 },
      auto,
    ],
    [
      "analysis running",
      { analysis, autoPromote: true },
      { phase: "Running" },
      {
        kind: "wait",
        wait: { on: "analysis", run: run("Running"), message: "pre-promotion analysis: errors Running" },
      },
    ],
    [
      "analysis inconclusive",
      { analysis, autoPromote: true },
      { phase: "Inconclusive" },
      {
        kind: "wait",
        wait: {
          on: "pause",
          reason: "AnalysisInconclusive",
          message:
            "pre-promotion analysis is inconclusive: errors Inconclusive; run modelship promote or modelship abort",
        },
      },
    ],
    [
      "analysis failed",
      { analysis, autoPromote: true },
      { phase: "Failed" },
      { kind: "fail", reason: "AnalysisFailed", message: "errors Failed" },
    ],
    ["analysis passed", { analysis, autoPromote: true }, { phase: "Successful" }, auto],
    ["promote wins over a failed analysis", { analysis }, { phase: "Failed", promote: true }, byHand],
    [
      "scaleDownDelaySeconds is handed to the promotion",
      { autoPromote: true, scaleDownDelaySeconds: 0 },
      {},
      { ...auto, scaleDownDelaySeconds: 0 },
    ],
  ];
  for (const [what, bg, s, outcome] of cases) {
    const asked: string[][] = [];
    const got = switchOver({
      bg: { ...manual, ...bg },
      name: "fraud",
      candidate: "c1",
      promote: s.promote ?? false,
      readyForMs: s.readyForMs ?? 0,
      analyze: (templates) => (asked.push(templates), run(s.phase ?? "Running")),
    });
    assert.deepEqual(got, outcome, what);
    assert.deepEqual(asked, bg.analysis ? [["errors"]] : [], `${what}: analysis measured`);
  }
});

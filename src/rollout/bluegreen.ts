import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { blueGreenAnalysisStep, runAnalysis, type AnalysisRun } from "./analysis-run.js";
import { reasons } from "./conditions.js";
import { elapsedMs } from "./duration.js";
import { available } from "./env.js";
import { loadTestPlan, loadTestRunId, loadTestStep } from "./loadtest.js";
import { advance, wait, type Stop, type StepOutcome, type Strategy } from "./frame.js";
import { fitToGpuBudget, type GpuBudget } from "./gpu.js";

type BlueGreenSpec = NonNullable<ModelDeployment["spec"]["rollout"]["blueGreen"]>;

const defaults: BlueGreenSpec = { autoPromote: false, previewService: true, scaleDownDelaySeconds: 30 };

/** The preview step: every preview pod available. */
export function preview(s: {
  candidate: string;
  total: number;
  /** maxSurgeGPUs leaves no room for N preview pods. */
  capped: boolean;
  /** The candidate's Deployment exists, and how many of its pods are available. */
  observed: boolean;
  available: number;
  budget: GpuBudget;
}): StepOutcome {
  if (!s.capped && s.observed && s.available >= s.total) return advance("preview ready");
  return wait({
    on: "pods",
    reason: reasons.waitingForReplicas,
    message: `preview revision ${s.candidate}: ${s.available}/${s.total} replicas available`,
    ...(s.capped
      ? {
          maxSurge: `blue-green needs ${s.total * s.budget.perCanaryPod} extra GPUs for a full preview but maxSurgeGPUs is ${s.budget.maxSurge}: raise spec.rollout.maxSurgeGPUs or use the canary strategy`,
        }
      : {}),
  });
}

/**
 * The switch step, once the preview is ready: the pre-promotion analysis (if any) must pass, then promotion by
 * `modelship promote` (asked for now or before the preview was ready), or automatically (autoPromote, or
 * autoPromoteAfterSeconds after the preview became ready).
 */
export function switchOver(s: {
  bg: BlueGreenSpec;
  name: string;
  candidate: string;
  promote: boolean;
  /** Milliseconds since the preview became ready. */
  readyForMs: number;
  analyze(templates: string[]): AnalysisRun;
}): Stop {
  const { bg } = s;
  const analysis = bg.analysis ? s.analyze(bg.analysis.templates) : undefined;
  if (s.promote) {
    return {
      kind: "promote",
      why: "promoted with modelship promote",
      scaleDownDelaySeconds: bg.scaleDownDelaySeconds,
    };
  }
  switch (analysis?.phase) {
    case "Running":
      return wait({ on: "analysis", run: analysis, message: `pre-promotion analysis: ${analysis.summary}` });
    case "Inconclusive":
      return wait({
        on: "pause",
        reason: reasons.analysisInconclusive,
        message: `pre-promotion analysis is inconclusive: ${analysis.summary}; run modelship promote or modelship abort`,
      });
    case "Failed":
      return { kind: "fail", reason: reasons.analysisFailed, message: analysis.summary };
  }
  const auto = bg.autoPromote || bg.autoPromoteAfterSeconds !== undefined;
  const waitMs = (bg.autoPromoteAfterSeconds ?? 0) * 1000 - s.readyForMs;
  if (auto && waitMs <= 0) {
    return {
      kind: "promote",
      why: "preview ready, promoted automatically",
      scaleDownDelaySeconds: bg.scaleDownDelaySeconds,
    };
  }
  if (auto) {
    return wait({
      on: "timer",
      reason: reasons.waitingForPromotion,
      message: `promoting automatically in ${Math.ceil(waitMs / 1000)}s`,
      forMs: waitMs,
    });
  }
  return wait({
    on: "pause",
    reason: reasons.waitingForPromotion,
    message: `preview revision ${s.candidate} is ready${bg.previewService ? ` at ${s.name}-preview` : ""}: run modelship promote ${s.name}`,
  });
}

/**
 * Blue-green: the new revision runs at full size as `preview` (its own <name>-preview Service, no production
 * traffic) beside stable. Once every preview pod is available and the pre-promotion analysis (if any) passes,
 * it is promoted: automatically (autoPromote, or after autoPromoteAfterSeconds) or by `modelship promote`.
 * All traffic switches at once; the old revision keeps its pods for scaleDownDelaySeconds.
 */
export const blueGreen: Strategy = {
  role: "preview",
  // Stable serves everything until the switch, so it gives no GPUs to the preview.
  stableYieldsGPUs: false,
  walk({ env, stable, cand, budget }) {
    const { ctx, book } = env;
    const bg = ctx.md.spec.rollout.blueGreen ?? defaults;
    const N = env.total;
    const fit = fitToGpuBudget({ canary: N, stable: N }, N, 100, budget);
    const counts = { canary: fit.counts.canary, stable: N };
    const traffic = { weight: 0 };
    const pa = available(cand);
    const ready = preview({
      candidate: cand.id,
      total: N,
      capped: fit.capped,
      observed: cand.obs !== undefined,
      available: pa,
      budget,
    });
    if (ready.kind !== "advance") {
      // A promote asked for before the preview is ready applies once it is.
      if (env.requests.promote) book.promoteRequested = true;
      return { stop: ready, counts, traffic };
    }
    if (book.previewReadyAt === undefined) {
      book.previewReadyAt = env.time;
      env.events.push({
        type: "Normal",
        reason: "PreviewReady",
        message: `preview revision ${cand.id} has ${pa}/${N} replicas available`,
      });
    }
    const promote = env.requests.promote !== undefined || book.promoteRequested === true;
    // The pre-promotion load test, on the preview Service; a promote asked for skips it, as it ends an analysis.
    if (bg.loadTest && !promote) {
      const tested = loadTestStep({
        plan: loadTestPlan({
          runId: loadTestRunId(cand.id, blueGreenAnalysisStep, book.previewReadyAt),
          step: blueGreenAnalysisStep,
          spec: bg.loadTest,
          candidate: { id: cand.id, role: "preview" },
          stable: stable.id,
        }),
        status: ctx.md.status?.loadTest,
        sinceStepMs: elapsedMs(book.previewReadyAt, env.now),
        mdName: ctx.md.metadata.name,
        at: "pre-promotion",
      });
      if (tested.kind !== "advance") return { stop: tested, counts, traffic };
    }
    const stop = switchOver({
      bg,
      name: ctx.md.metadata.name,
      candidate: cand.id,
      promote,
      readyForMs: elapsedMs(book.previewReadyAt, env.now),
      analyze: (templates) => runAnalysis(env, blueGreenAnalysisStep, templates),
    });
    return { stop, counts, traffic };
  },
};

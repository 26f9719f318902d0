import { blueGreenAnalysisStep, runAnalysis, type AnalysisRun } from "./analysis-run.js";
import { noteCapacity, notePause, noteProgress, sinceProgressMs, startCandidate } from "./candidate.js";
import { reasons, rolloutConditions, type ConditionInput } from "./conditions.js";
import { elapsedMs } from "./duration.js";
import { available, plannedRev, podFailure, pruneExcept, renderPlan, type Env, type Rev } from "./env.js";
import { fitToGpuBudget, gpuShortfall, gpusPerPod } from "./gpu.js";
import { promoteCandidate } from "./promote.js";
import { failCandidate, rollBack } from "./rollback.js";
import type { RolloutDecision } from "./types.js";

const settleRequeueMs = 5_000;

/**
 * Blue-green: the new revision runs at full size as `preview` (its own <name>-preview Service, no production
 * traffic) beside stable. Once every preview pod is available and the pre-promotion analysis (if any) passes,
 * it is promoted: automatically (autoPromote, or after autoPromoteAfterSeconds) or by `modelship promote`.
 * All traffic switches at once; the old revision keeps its pods for scaleDownDelaySeconds.
 */
export function decideBlueGreen(env: Env, stable: Rev, cand: Rev): RolloutDecision {
  const { ctx, book } = env;
  const spec = ctx.md.spec;
  const bg = spec.rollout.blueGreen ?? {
    autoPromote: false,
    previewService: true,
    scaleDownDelaySeconds: 30,
  };
  const N = env.total;
  startCandidate(env, stable, cand);
  if (env.requests.abort) return rollBack(env, stable, cand, reasons.aborted, "aborted with modelship abort");

  const budget = {
    ...(spec.rollout.maxSurgeGPUs !== undefined ? { maxSurge: spec.rollout.maxSurgeGPUs } : {}),
    perCanaryPod: gpusPerPod(cand.spec),
    perStablePod: gpusPerPod(stable.spec),
  };
  // Blue-green never shrinks stable: it serves everything until the switch.
  const fit = fitToGpuBudget({ canary: N, stable: N }, N, 100, { ...budget, perStablePod: 0 });
  const preview = fit.counts.canary;
  const pa = available(cand);
  noteProgress(env, pa, false);
  const ready = !fit.capped && cand.obs !== undefined && pa >= N;
  if (ready && book.previewReadyAt === undefined) {
    book.previewReadyAt = env.time;
    env.events.push({
      type: "Normal",
      reason: "PreviewReady",
      message: `preview revision ${cand.id} has ${pa}/${N} replicas available`,
    });
  }

  // A promote asked for before the preview is ready applies once it is.
  if (env.requests.promote && !ready) book.promoteRequested = true;
  let analysis: AnalysisRun | undefined;
  let paused: { reason: string; message: string } | undefined;
  let progressing: ConditionInput["progressing"] = {
    status: true,
    reason: reasons.waitingForReplicas,
    message: `preview revision ${cand.id}: ${pa}/${N} replicas available`,
  };
  let requeueAfterMs: number | undefined = settleRequeueMs;
  if (ready) {
    if (bg.analysis) analysis = runAnalysis(env, blueGreenAnalysisStep, bg.analysis.templates);
    if (env.requests.promote || book.promoteRequested)
      return promoteCandidate(env, stable, cand, "promoted with modelship promote", bg.scaleDownDelaySeconds);
    if (analysis?.phase === "Running") {
      progressing = {
        status: true,
        reason: reasons.analysisRunning,
        message: `pre-promotion analysis: ${analysis.summary}`,
      };
      requeueAfterMs = analysis.due.length > 0 ? 1000 : Math.max(1000, analysis.nextMs ?? settleRequeueMs);
    } else if (analysis?.phase === "Inconclusive") {
      paused = {
        reason: reasons.analysisInconclusive,
        message: `pre-promotion analysis is inconclusive: ${analysis.summary}; run modelship promote or modelship abort`,
      };
      requeueAfterMs = undefined;
    } else if (analysis?.phase !== "Failed") {
      const auto = bg.autoPromote || bg.autoPromoteAfterSeconds !== undefined;
      const waitMs = (bg.autoPromoteAfterSeconds ?? 0) * 1000 - elapsedMs(book.previewReadyAt, env.now);
      if (auto && waitMs <= 0) {
        return promoteCandidate(
          env,
          stable,
          cand,
          "preview ready, promoted automatically",
          bg.scaleDownDelaySeconds,
        );
      }
      if (auto) {
        progressing = {
          status: true,
          reason: reasons.waitingForPromotion,
          message: `promoting automatically in ${Math.ceil(waitMs / 1000)}s`,
        };
        requeueAfterMs = Math.max(1000, waitMs);
      } else {
        paused = {
          reason: reasons.waitingForPromotion,
          message: `preview revision ${cand.id} is ready${bg.previewService ? ` at ${ctx.md.metadata.name}-preview` : ""}: run modelship promote ${ctx.md.metadata.name}`,
        };
        requeueAfterMs = undefined;
      }
    }
  }
  notePause(env, paused?.reason, paused?.message ?? "");
  if (paused) progressing = { status: true, reason: reasons.rolloutPaused, message: paused.message };

  const shortfall = gpuShortfall(
    { canary: cand.obs?.replicas ?? 0, stable: N },
    { canary: preview, stable: N },
    budget,
    ctx.freeGPUs,
  );
  const waiting = fit.capped
    ? {
        reason: reasons.maxSurgeGPUs,
        message: `blue-green needs ${N * budget.perCanaryPod} extra GPUs for a full preview but maxSurgeGPUs is ${budget.maxSurge}: raise spec.rollout.maxSurgeGPUs or use the canary strategy`,
      }
    : cand.obs?.unschedulable
      ? {
          reason: reasons.insufficientGPU,
          message: `preview pods cannot be scheduled: ${cand.obs.unschedulable.message}`,
        }
      : shortfall > 0 && pa < N
        ? {
            reason: reasons.insufficientGPU,
            message: `the cluster lacks ${shortfall} GPU(s) for the preview; waiting for capacity`,
          }
        : undefined;
  noteCapacity(env, waiting);

  const planned = [plannedRev(stable, "stable", N), plannedRev(cand, "preview", preview)];
  const decision: RolloutDecision = {
    plan: renderPlan(planned, { stable: 100, canary: 0 }),
    status: {
      stableRevision: stable.id,
      canaryRevision: cand.id,
      phase: paused ? "Paused" : "Progressing",
      modelVersion: stable.spec.model.version,
      conditions: rolloutConditions({
        progressing,
        ...(paused ? { paused } : {}),
        ...(waiting ? { waiting } : {}),
      }),
      history: [],
      rollout: {},
    },
    prune: pruneExcept(ctx, planned),
    measure: analysis?.phase === "Running" ? analysis.due : [],
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    events: [],
  };
  const failure = podFailure(cand);
  if (failure)
    return failCandidate(
      env,
      stable,
      cand,
      reasons.podsFailed,
      `${failure.reason}: ${failure.message}`,
      decision,
    );
  if (analysis?.phase === "Failed")
    return failCandidate(env, stable, cand, reasons.analysisFailed, analysis.summary, decision);
  if (!ready && !waiting && sinceProgressMs(env) > spec.rollout.progressDeadlineSeconds * 1000) {
    return failCandidate(
      env,
      stable,
      cand,
      reasons.progressDeadlineExceeded,
      `${pa}/${N} preview replicas available after ${spec.rollout.progressDeadlineSeconds}s without progress`,
      decision,
    );
  }
  return decision;
}

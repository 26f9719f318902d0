import type { HeaderRoute } from "../render/plan.js";
import { runAnalysis } from "./analysis-run.js";
import { noteCapacity, notePause, noteProgress, sinceProgressMs, startCandidate } from "./candidate.js";
import { reasons, rolloutConditions, type ConditionInput } from "./conditions.js";
import { durationMs, elapsedMs } from "./duration.js";
import { available, plannedRev, podFailure, pruneExcept, renderPlan, type Env, type Rev } from "./env.js";
import { fitToGpuBudget, gpuShortfall, gpusPerPod, type GpuBudget } from "./gpu.js";
import { promoteCandidate } from "./promote.js";
import { canaryReplicaCounts, podRatioWeight, type ReplicaCounts } from "./replicas.js";
import { failCandidate, rollBack } from "./rollback.js";
import type { RolloutDecision } from "./types.js";

const settleRequeueMs = 5_000;

/** Why the walk through the steps stopped in this reconcile. */
type Stop =
  | { kind: "replicas"; capped: boolean }
  | { kind: "pause"; untilMs?: number; reason: string; message: string }
  | { kind: "analysis"; due: string[]; nextMs?: number; summary: string }
  | { kind: "analysisFailed"; summary: string };

/**
 * Canary: walk spec.rollout.canary.steps, then promote. Each reconcile walks as far as the cluster allows:
 * - setWeight w: canary pods for w (see replicas.ts); traffic moves to w once those pods are available;
 * - pause: until its duration has passed, or until `modelship promote` when it has none;
 * - analysis: measurements every interval until each template succeeds, fails or turns inconclusive;
 * - setHeaderRoute / setMirror: A/B cohort or shadow copy to the canary (needs one canary pod), kept on for
 *   the following steps;
 * - after the last step the canary is scaled to N, then it becomes stable.
 * Failed pods, a failed analysis or no progress within progressDeadlineSeconds roll back (autoRollback).
 */
export function decideCanary(env: Env, stable: Rev, cand: Rev): RolloutDecision {
  const { ctx, book } = env;
  const spec = ctx.md.spec;
  const steps = spec.rollout.canary?.steps ?? [];
  const routed = spec.traffic.provider !== "service";
  const N = env.total;
  startCandidate(env, stable, cand);
  if (env.requests.abort) return rollBack(env, stable, cand, reasons.aborted, "aborted with modelship abort");

  const budget: GpuBudget = {
    ...(spec.rollout.maxSurgeGPUs !== undefined ? { maxSurge: spec.rollout.maxSurgeGPUs } : {}),
    perCanaryPod: gpusPerPod(cand.spec),
    perStablePod: gpusPerPod(stable.spec),
  };
  const ca = available(cand);
  let i = book.step ?? 0;
  let tw = book.weight ?? 0;
  let header: HeaderRoute | undefined = book.headerRoute;
  let mirror = book.mirror;
  let promote = env.requests.promote;
  let counts: ReplicaCounts = { canary: 0, stable: N };
  let stop: Stop | undefined;
  const advance = (what: string) => {
    env.events.push({
      type: "Normal",
      reason: "StepCompleted",
      message: `step ${i + 1}/${steps.length} (${what}) completed`,
    });
    i++;
    book.stepStartedAt = env.time;
    delete book.analysis;
    noteProgress(env, ca, true);
  };
  if (promote === "full" && i < steps.length) {
    env.events.push({
      type: "Normal",
      reason: "PromotedByUser",
      message: `skipping to promotion from step ${i + 1}`,
    });
    i = steps.length;
    promote = undefined;
    delete book.analysis;
  }

  /**
   * Replica counts for moving the canary to `w`, and the weight it has reached. Under a GPU cap the canary may
   * get fewer pods than its share; it is then given the traffic its available pods can carry, which lets stable
   * hand back GPUs on the next round (see gpu.ts).
   */
  const settle = (w: number, podRequired: boolean): { reached: boolean; capped: boolean } => {
    for (let round = 0; round < 4; round++) {
      const want = canaryReplicaCounts({
        total: N,
        canaryWeight: w,
        stableWeight: 100 - tw,
        trafficRouted: routed,
        canaryPodRequired: podRequired,
      });
      const fit = fitToGpuBudget(want, N, 100 - tw, budget);
      counts = fit.counts;
      if (!fit.capped) {
        const reached = ca >= counts.canary;
        if (reached) tw = w;
        return { reached, capped: false };
      }
      const carried = N === 0 ? 0 : Math.floor((100 * Math.min(ca, counts.canary)) / N);
      let next = Math.max(tw, Math.min(w, carried));
      // The last pod: hand over the rest with one pod short, as a maxUnavailable 1 rolling update would.
      if (w === 100 && ca >= 1 && ca >= N - 1 && ca >= counts.canary) next = 100;
      if (next === tw) return { reached: false, capped: true };
      tw = next;
    }
    return { reached: false, capped: true };
  };

  for (let guard = 0; guard <= steps.length + 1 && stop === undefined; guard++) {
    if (i >= steps.length) {
      const s = settle(100, false);
      if (s.reached && ca >= N) return promoteCandidate(env, stable, cand, "all steps completed");
      stop = { kind: "replicas", capped: s.capped };
      break;
    }
    const step = steps[i]!;
    if (step.setWeight !== undefined) {
      const s = settle(step.setWeight, header !== undefined || mirror !== undefined);
      if (s.reached) advance(`setWeight ${step.setWeight}`);
      else stop = { kind: "replicas", capped: s.capped };
    } else if (step.setHeaderRoute || step.setMirror) {
      if (step.setHeaderRoute) header = { match: step.setHeaderRoute.match };
      if (step.setMirror) mirror = { percent: step.setMirror.percent };
      const s = settle(tw, true);
      if (s.reached) advance(step.setHeaderRoute ? "setHeaderRoute" : `setMirror ${step.setMirror?.percent}`);
      else stop = { kind: "replicas", capped: s.capped };
    } else if (step.pause) {
      settle(tw, header !== undefined || mirror !== undefined);
      const d = step.pause.duration;
      const left = d === undefined ? undefined : durationMs(d) - elapsedMs(book.stepStartedAt, env.now);
      if (promote === "step") {
        promote = undefined;
        advance("pause, promoted");
      } else if (left !== undefined && left <= 0) {
        advance(`pause ${d}`);
      } else {
        stop = {
          kind: "pause",
          ...(left !== undefined ? { untilMs: left } : {}),
          reason: reasons.pausedByStep,
          message:
            d === undefined
              ? `paused at step ${i + 1}/${steps.length} until promoted: run modelship promote ${ctx.md.metadata.name}`
              : `paused at step ${i + 1}/${steps.length} for ${d}`,
        };
      }
    } else if (step.analysis) {
      settle(tw, header !== undefined || mirror !== undefined);
      const run = runAnalysis(env, i, step.analysis.templates);
      if (promote === "step") {
        promote = undefined;
        advance("analysis, promoted");
      } else if (run.phase === "Successful") {
        advance(`analysis: ${run.summary}`);
      } else if (run.phase === "Failed") {
        stop = { kind: "analysisFailed", summary: run.summary };
      } else if (run.phase === "Inconclusive") {
        stop = {
          kind: "pause",
          reason: reasons.analysisInconclusive,
          message: `analysis at step ${i + 1} is inconclusive: ${run.summary}; run modelship promote to go on or modelship abort`,
        };
      } else {
        stop = {
          kind: "analysis",
          due: run.due,
          ...(run.nextMs !== undefined ? { nextMs: run.nextMs } : {}),
          summary: run.summary,
        };
      }
    } else {
      advance("empty step");
    }
  }
  stop ??= { kind: "replicas", capped: false };
  if (promote === "step") {
    env.events.push({
      type: "Normal",
      reason: "PromoteIgnored",
      message: `promote ends a pause or analysis step; step ${i + 1} is waiting for canary pods (use promote --full to skip every step)`,
    });
  }

  book.step = i;
  book.weight = tw;
  if (header) book.headerRoute = header;
  if (mirror) book.mirror = mirror;
  noteProgress(env, ca, false);

  // Capacity: the cap keeps the canary short of its share, or the cluster has no room for its pods.
  const running: ReplicaCounts = { canary: cand.obs?.replicas ?? 0, stable: stable.obs?.replicas ?? N };
  const shortfall = gpuShortfall(running, counts, budget, ctx.freeGPUs);
  const waiting =
    stop.kind === "replicas" && stop.capped
      ? {
          reason: reasons.maxSurgeGPUs,
          message: `the canary needs more GPUs than maxSurgeGPUs ${budget.maxSurge} allows beside stable (${counts.canary} canary, ${counts.stable} stable pods of ${budget.perCanaryPod}/${budget.perStablePod} GPUs): raise spec.rollout.maxSurgeGPUs`,
        }
      : cand.obs?.unschedulable
        ? {
            reason: reasons.insufficientGPU,
            message: `canary pods cannot be scheduled: ${cand.obs.unschedulable.message}`,
          }
        : shortfall > 0 && ca < counts.canary
          ? {
              reason: reasons.insufficientGPU,
              message: `the cluster lacks ${shortfall} GPU(s) for the canary; waiting for capacity`,
            }
          : undefined;
  noteCapacity(env, waiting);

  const weight = routed
    ? tw
    : podRatioWeight({
        canary: Math.min(ca, counts.canary),
        stable: Math.min(available(stable), counts.stable),
      });
  const planned = [plannedRev(stable, "stable", counts.stable), plannedRev(cand, "canary", counts.canary)];
  const paused = stop.kind === "pause" ? { reason: stop.reason, message: stop.message } : undefined;
  notePause(env, paused?.reason, paused?.message ?? "");
  const progressing: ConditionInput["progressing"] =
    stop.kind === "pause"
      ? { status: true, reason: reasons.rolloutPaused, message: stop.message }
      : stop.kind === "analysis"
        ? {
            status: true,
            reason: reasons.analysisRunning,
            message: `step ${i + 1}/${steps.length}: ${stop.summary}`,
          }
        : i >= steps.length
          ? {
              status: true,
              reason: reasons.promoting,
              message: `scaling revision ${cand.id} to ${N} replicas (${ca} available)`,
            }
          : {
              status: true,
              reason: reasons.waitingForReplicas,
              message: `step ${i + 1}/${steps.length}: ${ca}/${counts.canary} canary replicas available`,
            };
  const decision: RolloutDecision = {
    plan: renderPlan(
      planned,
      { stable: 100 - weight, canary: weight },
      { ...(header ? { headerRoute: header } : {}), ...(mirror ? { mirror } : {}) },
    ),
    status: {
      stableRevision: stable.id,
      canaryRevision: cand.id,
      currentStepIndex: i,
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
    measure: stop.kind === "analysis" ? stop.due : [],
    ...requeue(stop),
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
  if (stop.kind === "analysisFailed") {
    return failCandidate(env, stable, cand, reasons.analysisFailed, stop.summary, decision);
  }
  const deadlineMs = spec.rollout.progressDeadlineSeconds * 1000;
  if (stop.kind === "replicas" && !waiting && sinceProgressMs(env) > deadlineMs) {
    return failCandidate(
      env,
      stable,
      cand,
      reasons.progressDeadlineExceeded,
      `${ca}/${counts.canary} canary replicas available after ${spec.rollout.progressDeadlineSeconds}s without progress`,
      decision,
    );
  }
  return decision;
}

function requeue(stop: Stop): { requeueAfterMs?: number } {
  switch (stop.kind) {
    case "replicas":
      return { requeueAfterMs: settleRequeueMs };
    case "pause":
      return stop.untilMs !== undefined ? { requeueAfterMs: Math.max(1000, stop.untilMs) } : {};
    case "analysis":
      return { requeueAfterMs: stop.due.length > 0 ? 1000 : Math.max(1000, stop.nextMs ?? settleRequeueMs) };
    case "analysisFailed":
      return {};
  }
}

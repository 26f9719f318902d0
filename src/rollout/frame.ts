import type { HeaderRoute, LoadTestPlan } from "../render/plan.js";
import type { AnalysisRun } from "./analysis-run.js";
import { noteCapacity, notePause, noteProgress, sinceProgressMs, startCandidate } from "./candidate.js";
import { reasons, rolloutConditions, type ConditionInput } from "./conditions.js";
import { available, plannedRev, podFailure, pruneExcept, renderPlan, type Env, type Rev } from "./env.js";
import { gpuShortfall, gpusPerPod, unschedulableReason, type GpuBudget } from "./gpu.js";
import { promoteCandidate } from "./promote.js";
import type { ReplicaCounts } from "./replicas.js";
import { failCandidate, rollBack } from "./rollback.js";
import type { RolloutDecision } from "./types.js";

const settleRequeueMs = 5_000;
const loadTestRequeueMs = 15_000;

/** What holds the rollout where it is for this reconcile. */
export type Wait =
  /** Candidate pods are not available yet; the progress deadline runs. `maxSurge`: why the GPU cap holds them short. */
  | { on: "pods"; reason: string; message: string; maxSurge?: string }
  /** Phase Paused: until `modelship promote`, or for `forMs`. */
  | { on: "pause"; reason: string; message: string; forMs?: number }
  /** Measurements are running. */
  | { on: "analysis"; run: AnalysisRun; message: string }
  /** A load-test Job runs against the candidate (its result comes back in status.loadTest). */
  | { on: "loadTest"; plan: LoadTestPlan; message: string }
  /** A countdown nobody needs to act on (blue-green auto-promotion). */
  | { on: "timer"; reason: string; message: string; forMs: number };

/** What one step did: finished (the walk goes on), holds the rollout, failed it, or ends it with promotion. */
export type StepOutcome =
  | { kind: "advance"; what: string }
  | { kind: "wait"; wait: Wait }
  | { kind: "fail"; reason: string; message: string }
  | { kind: "promote"; why: string; scaleDownDelaySeconds?: number };

/** Where a strategy's walk through its steps stopped in this reconcile. */
export type Stop = Exclude<StepOutcome, { kind: "advance" }>;

/** The canary's share of traffic, and the header route and mirror that send it requests whatever its share. */
export interface Traffic {
  weight: number;
  headerRoute?: HeaderRoute;
  mirror?: { percent: number };
}

export interface Walk {
  stop: Stop;
  /** Pods for stable and for the candidate. */
  counts: ReplicaCounts;
  traffic: Traffic;
  /** status.currentStepIndex, for strategies with numbered steps. */
  stepIndex?: number;
}

export interface Strategy {
  /** The candidate's role in the plan and in messages. */
  role: "canary" | "preview";
  /** Stable hands GPUs to the candidate as traffic moves (canary), or keeps every one until the switch (blue-green). */
  stableYieldsGPUs: boolean;
  /** Walks the strategy's steps as far as the cluster allows; may record step progress in env.book. */
  walk(input: { env: Env; stable: Rev; cand: Rev; budget: GpuBudget }): Walk;
}

export const advance = (what: string): StepOutcome => ({ kind: "advance", what });
export const wait = (w: Wait): Stop => ({ kind: "wait", wait: w });

/**
 * The frame every traffic-shifting strategy runs in: start (or restart) the candidate, abort, the GPU budget,
 * then the strategy walks its steps, then progress, capacity-wait and pause bookkeeping, the conditions, and the
 * failure checks (failed pods, a failed step, the progress deadline) in that order.
 */
export function decideRollout(env: Env, stable: Rev, cand: Rev, strategy: Strategy): RolloutDecision {
  const { ctx } = env;
  const rollout = ctx.md.spec.rollout;
  startCandidate(env, stable, cand);
  if (env.requests.abort) return rollBack(env, stable, cand, reasons.aborted, "aborted with modelship abort");

  const budget: GpuBudget = {
    ...(rollout.maxSurgeGPUs !== undefined ? { maxSurge: rollout.maxSurgeGPUs } : {}),
    perCanaryPod: gpusPerPod(cand.spec),
    perStablePod: strategy.stableYieldsGPUs ? gpusPerPod(stable.spec) : 0,
  };
  const { stop, counts, traffic, stepIndex } = strategy.walk({ env, stable, cand, budget });
  if (stop.kind === "promote") {
    return promoteCandidate(env, stable, cand, stop.why, stop.scaleDownDelaySeconds);
  }
  const held = stop.kind === "wait" ? stop.wait : undefined;
  const ca = available(cand);
  noteProgress(env, ca, false);

  const waiting = capacityWait(env, stable, cand, strategy.role, held, counts, budget);
  noteCapacity(env, waiting);
  const paused = held?.on === "pause" ? { reason: held.reason, message: held.message } : undefined;
  notePause(env, paused?.reason, paused?.message ?? "");

  const planned = [
    plannedRev(stable, "stable", counts.stable),
    plannedRev(cand, strategy.role, counts.canary),
  ];
  const decision: RolloutDecision = {
    plan: renderPlan(
      planned,
      { stable: 100 - traffic.weight, canary: traffic.weight },
      {
        ...traffic,
        ...(held?.on === "loadTest" ? { loadTest: held.plan } : {}),
      },
    ),
    status: {
      stableRevision: stable.id,
      canaryRevision: cand.id,
      ...(stepIndex !== undefined ? { currentStepIndex: stepIndex } : {}),
      phase: paused ? "Paused" : "Progressing",
      modelVersion: stable.spec.model.version,
      conditions: rolloutConditions({
        progressing: progressing(stop),
        ...(paused ? { paused } : {}),
        ...(waiting ? { waiting } : {}),
      }),
      history: [],
      rollout: {},
    },
    prune: pruneExcept(ctx, planned),
    measure: held?.on === "analysis" ? held.run.due : [],
    ...requeue(held),
    events: [],
  };

  const failure = podFailure(cand);
  if (failure) {
    const message = `${failure.reason}: ${failure.message}`;
    return failCandidate(env, stable, cand, reasons.podsFailed, message, decision);
  }
  if (stop.kind === "fail") return failCandidate(env, stable, cand, stop.reason, stop.message, decision);
  // Waiting for GPUs is not a lack of progress: the pods are requested and schedule once capacity frees up.
  const deadline = rollout.progressDeadlineSeconds;
  if (held?.on === "pods" && !waiting && sinceProgressMs(env) > deadline * 1000) {
    const message = `${ca}/${counts.canary} ${strategy.role} replicas available after ${deadline}s without progress`;
    return failCandidate(env, stable, cand, reasons.progressDeadlineExceeded, message, decision);
  }
  return decision;
}

/** WaitingForCapacity: the GPU cap keeps the candidate short of its pods, or the cluster has no room for them. */
function capacityWait(
  env: Env,
  stable: Rev,
  cand: Rev,
  role: Strategy["role"],
  held: Wait | undefined,
  counts: ReplicaCounts,
  budget: GpuBudget,
): { reason: string; message: string } | undefined {
  if (held?.on === "pods" && held.maxSurge) return { reason: reasons.maxSurgeGPUs, message: held.maxSurge };
  const unschedulable = cand.obs?.unschedulable;
  if (unschedulable) {
    return {
      reason: unschedulableReason(cand.spec),
      message: `${role} pods cannot be scheduled: ${unschedulable.message}`,
    };
  }
  const running = { canary: cand.obs?.replicas ?? 0, stable: stable.obs?.replicas ?? env.total };
  const shortfall = gpuShortfall(running, counts, budget, env.ctx.freeGPUs);
  if (shortfall > 0 && available(cand) < counts.canary) {
    return {
      reason: reasons.insufficientGPU,
      message: `the cluster lacks ${shortfall} GPU(s) for the ${role}; waiting for capacity`,
    };
  }
  return undefined;
}

function progressing(stop: Exclude<Stop, { kind: "promote" }>): ConditionInput["progressing"] {
  if (stop.kind === "fail") return { status: false, reason: stop.reason, message: stop.message };
  const w = stop.wait;
  switch (w.on) {
    case "pause":
      return { status: true, reason: reasons.rolloutPaused, message: w.message };
    case "analysis":
      return { status: true, reason: reasons.analysisRunning, message: w.message };
    case "loadTest":
      return { status: true, reason: reasons.loadTestRunning, message: w.message };
    default:
      return { status: true, reason: w.reason, message: w.message };
  }
}

function requeue(held: Wait | undefined): { requeueAfterMs?: number } {
  switch (held?.on) {
    case undefined:
      return {}; // a failed step: rolled back, or held for a person
    case "pods":
      return { requeueAfterMs: settleRequeueMs };
    case "pause":
      return held.forMs !== undefined ? { requeueAfterMs: Math.max(1000, held.forMs) } : {};
    case "analysis":
      return {
        requeueAfterMs: held.run.due.length > 0 ? 1000 : Math.max(1000, held.run.nextMs ?? settleRequeueMs),
      };
    case "timer":
      return { requeueAfterMs: Math.max(1000, held.forMs) };
    case "loadTest":
      // the Job's status write wakes the controller; this only bounds the wait for its deadline
      return { requeueAfterMs: loadTestRequeueMs };
  }
}

import { reasons } from "./conditions.js";
import type { RevisionSpec } from "../render/plan.js";
import type { ReplicaCounts } from "./replicas.js";

/** GPUs (or MIG slices) one pod of the revision requests. */
export function gpusPerPod(spec: RevisionSpec): number {
  return spec.resources.gpu?.count ?? 0;
}

/** WaitingForCapacity's reason when a revision's pods fit nowhere: GPUs for a GPU pod, else CPU or memory. */
export function unschedulableReason(spec: RevisionSpec): string {
  return gpusPerPod(spec) > 0 ? reasons.insufficientGPU : reasons.insufficientResources;
}

export interface GpuBudget {
  /** spec.rollout.maxSurgeGPUs: extra GPUs the rollout may hold above stable's N pods; undefined = no cap. */
  maxSurge?: number;
  perCanaryPod: number;
  perStablePod: number;
}

export interface Fitted {
  counts: ReplicaCounts;
  /** The canary got fewer pods than asked for. */
  capped: boolean;
}

/**
 * Fits the wanted replica counts into N stable pods' GPUs plus maxSurgeGPUs. Stable gives up pods first, but
 * never more than one below the share of traffic it still serves (the same trade the GPU Deployments make
 * with maxSurge 0, maxUnavailable 1); only then is the canary cut.
 *
 * Worked example, N=4, 1 GPU per pod, maxSurgeGPUs 0 (budget 4 GPUs), router provider:
 *   setWeight 25 (stable serves 100%): want canary 1 + stable 4 = 5 GPUs; stable may drop to 3 -> 1 + 3.
 *   setWeight 50 (stable serves 75%):  want 2 + 4; stable may drop to max(1, ceil(3) - 1) = 2 -> 2 + 2.
 *   promotion (stable serves 50%):     want 4 + 4; stable may drop to 1 -> canary capped at 3.
 */
export function fitToGpuBudget(
  want: ReplicaCounts,
  total: number,
  stableServes: number,
  budget: GpuBudget,
): Fitted {
  const { maxSurge, perCanaryPod: gc, perStablePod: gs } = budget;
  if (maxSurge === undefined || (gc === 0 && gs === 0)) return { counts: want, capped: false };
  const limit = total * gs + maxSurge;
  const used = (c: number, s: number) => c * gc + s * gs;
  if (used(want.canary, want.stable) <= limit) return { counts: want, capped: false };
  const share = Math.ceil((total * stableServes) / 100);
  const stableFloor = stableServes > 0 && total > 0 ? Math.min(want.stable, Math.max(1, share - 1)) : 0;
  let stable = want.stable;
  if (gs > 0)
    stable = Math.max(stableFloor, Math.min(want.stable, Math.floor((limit - want.canary * gc) / gs)));
  let canary = want.canary;
  if (used(canary, stable) > limit && gc > 0) canary = Math.max(0, Math.floor((limit - stable * gs) / gc));
  return { counts: { canary, stable }, capped: canary < want.canary };
}

/**
 * GPUs the planned counts need beyond what is running now, less those stable gives back, compared with the
 * free GPUs the controller counted. > 0 means the new pods will wait Pending for that many GPUs.
 */
export function gpuShortfall(
  running: ReplicaCounts,
  planned: ReplicaCounts,
  budget: GpuBudget,
  freeGPUs: number | undefined,
): number {
  if (freeGPUs === undefined) return 0;
  const need =
    Math.max(0, planned.canary - running.canary) * budget.perCanaryPod -
    Math.max(0, running.stable - planned.stable) * budget.perStablePod;
  return Math.max(0, need - freeGPUs);
}

import type { Condition } from "../api/v1alpha1/index.js";

/**
 * Condition reasons are constants so alerts and tests can match on them. Ready, Reconciling and Stalled
 * follow kstatus (sigs.k8s.io/cli-utils): Reconciling and Stalled are abnormal-true, written False when
 * they do not apply, and never True together; a rollout's own reasons (src/rollout/conditions.ts) pass
 * through to Reconciling and Stalled.
 */
export const Reasons = {
  // Ready
  Available: "Available",
  ReplicasNotReady: "ReplicasNotReady",
  ScaledToZero: "ScaledToZero",
  RolloutInProgress: "RolloutInProgress",
  RolledBack: "RolledBack",
  // Reconciling
  ScalingReplicas: "ScalingReplicas",
  Reconciled: "Reconciled",
  Stalled: "Stalled",
  // Degraded, Stalled and Ready False
  AsExpected: "AsExpected",
  InvalidSpec: "InvalidSpec",
  PVCNotFound: "PVCNotFound",
  GPUProductUnavailable: "GPUProductUnavailable",
  MIGProfileUnavailable: "MIGProfileUnavailable",
  ProviderNotInstalled: "ProviderNotInstalled",
  PodsFailing: "PodsFailing",
  PodsUnschedulable: "PodsUnschedulable",
  ApplyFailed: "ApplyFailed",
} as const;

export type ConditionInput = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

/**
 * Merges wanted conditions into the current ones: lastTransitionTime moves only when the status flips;
 * reason and message follow the latest. Conditions of types not in `wanted` are left as they are
 * (another writer, e.g. the drift job, owns them).
 */
export function mergeConditions(
  current: Condition[],
  wanted: ConditionInput[],
  now: string,
  generation: number | undefined,
): Condition[] {
  const byType = new Map(current.map((c) => [c.type, c]));
  for (const w of wanted) {
    const old = byType.get(w.type);
    byType.set(w.type, {
      ...w,
      lastTransitionTime: old && old.status === w.status ? old.lastTransitionTime : now,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
  }
  return [...byType.values()];
}

/** The conditions this controller writes, taken from a full list (for change detection). */
export function ownConditions(all: Condition[], types: Set<string>): Condition[] {
  return all.filter((c) => types.has(c.type)).sort((a, b) => a.type.localeCompare(b.type));
}

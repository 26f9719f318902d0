import type {
  Condition,
  HistoryEntry,
  ModelDeployment,
  ModelDeploymentStatus,
} from "../api/v1alpha1/index.js";
import type { RenderedRevision } from "../render/render.js";
import { podSelector, selectorString } from "../render/labels.js";
import type { ObservedRevision, RolloutDecision } from "../rollout/types.js";
import { mergeConditions, Reasons, type ConditionInput } from "./conditions.js";
import { endpointsOf, type GatewayView } from "./endpoint.js";

export interface Problem {
  reason: string;
  message: string;
}

/** Condition types this controller writes (others, like DriftDetected, belong to other writers). */
export const controllerConditionTypes = new Set([
  "Ready",
  "Progressing",
  "Degraded",
  "Paused",
  "RolledBack",
  "WaitingForCapacity",
]);

export interface StatusInput {
  md: ModelDeployment;
  decision?: RolloutDecision;
  rendered: RenderedRevision[];
  observed: ObservedRevision[];
  /** Spec-level problems found by gather (missing PVC, GPU product nobody offers, ...). */
  problems: Problem[];
  clusterDomain: string;
  /** The Gateway a gatewayAPI route goes through, when the controller could read it. */
  gateway?: GatewayView;
  now: string;
}

function trafficSummary(decision: RolloutDecision | undefined): string {
  if (!decision) return "";
  const hasCanary = decision.plan.revisions.some((r) => r.role === "canary");
  const w = decision.plan.weights;
  let s = hasCanary ? `stable ${w.stable} / canary ${w.canary}` : "stable 100";
  if (decision.plan.headerRoute) s += " + header route";
  if (decision.plan.mirror) s += ` + mirror ${decision.plan.mirror.percent}%`;
  return s;
}

/** Pure: everything the controller knows -> the status it wants to write. */
export function desiredStatus(i: StatusInput): ModelDeploymentStatus {
  const { md, decision, observed, problems } = i;
  const prev = md.status ?? {};
  const name = md.metadata.name;
  const ns = md.metadata.namespace ?? "default";
  const stableId = decision?.status.stableRevision;
  const stable = observed.find((r) => r.id === stableId);
  const stablePlanned = decision?.plan.revisions.find((r) => r.role === "stable");
  const want = stablePlanned?.replicas ?? 0;
  const stableAvailable = stable?.availableReplicas ?? 0;

  const failing = observed.find((r) => r.failed && decision?.plan.revisions.length);
  const degraded: ConditionInput =
    problems.length > 0
      ? {
          type: "Degraded",
          status: "True",
          reason: problems[0]!.reason,
          message: problems.map((p) => p.message).join("; "),
        }
      : failing?.failed
        ? {
            type: "Degraded",
            status: "True",
            reason: Reasons.PodsFailing,
            message: `revision ${failing.id}: ${failing.failed.reason}: ${failing.failed.message}`,
          }
        : { type: "Degraded", status: "False", reason: Reasons.AsExpected, message: "" };

  const unschedulable = observed.find((r) => r.unschedulable);
  let ready: ConditionInput;
  if (problems.length > 0 && !stable)
    ready = { type: "Ready", status: "False", reason: problems[0]!.reason, message: problems[0]!.message };
  else if (want === 0 && stable)
    ready = {
      type: "Ready",
      status: "True",
      reason: Reasons.ScaledToZero,
      message: "scaled to zero; the first request wakes it up",
    };
  else if (stable && stableAvailable >= want && want > 0)
    ready = {
      type: "Ready",
      status: "True",
      reason: Reasons.Available,
      message: `${stableAvailable}/${want} replicas of revision ${stable.id} available`,
    };
  else
    ready = {
      type: "Ready",
      status: "False",
      reason: unschedulable
        ? Reasons.PodsUnschedulable
        : failing
          ? Reasons.PodsFailing
          : Reasons.ReplicasNotReady,
      message:
        unschedulable?.unschedulable?.message ??
        failing?.failed?.message ??
        `${stableAvailable}/${want} replicas available`,
    };

  const endpoints = endpointsOf(md, i.clusterDomain, i.gateway);
  const wanted: ConditionInput[] = [ready, degraded, ...(decision?.status.conditions ?? [])];
  const conditions: Condition[] = mergeConditions(
    prev.conditions ?? [],
    wanted,
    i.now,
    md.metadata.generation,
  );
  const history: HistoryEntry[] = [...(prev.history ?? []), ...(decision?.status.history ?? [])].slice(-20);

  const out: ModelDeploymentStatus = {
    ...prev,
    observedGeneration: md.metadata.generation,
    conditions,
    replicas: observed.reduce((n, r) => n + r.replicas, 0),
    readyReplicas: observed.reduce((n, r) => n + r.readyReplicas, 0),
    selector: selectorString(podSelector(name)),
    endpoint: endpoints.endpoint,
    serviceEndpoint: endpoints.serviceEndpoint,
    traffic: trafficSummary(decision),
    revisions: i.rendered.map((r) => {
      const o = observed.find((x) => x.id === r.id);
      return {
        name: r.id,
        role: r.role as "stable" | "canary" | "preview" | "old",
        modelVersion: r.modelVersion,
        replicas: r.replicas,
        readyReplicas: o?.readyReplicas ?? 0,
        ...(r.role === "stable" ? { weight: decision?.plan.weights.stable ?? 100 } : {}),
        ...(r.role === "canary" ? { weight: decision?.plan.weights.canary ?? 0 } : {}),
      };
    }),
    history,
  };
  if (decision) {
    const s = decision.status;
    out.phase =
      problems.length > 0 || degraded.status === "True"
        ? s.phase === "RolledBack"
          ? s.phase
          : "Degraded"
        : s.phase;
    if (s.stableRevision !== undefined) out.stableRevision = s.stableRevision;
    if (s.modelVersion !== undefined) out.modelVersion = s.modelVersion;
    if (s.canaryRevision !== undefined) out.canaryRevision = s.canaryRevision;
    else delete out.canaryRevision;
    if (s.currentStepIndex !== undefined) out.currentStepIndex = s.currentStepIndex;
    else delete out.currentStepIndex;
    out.rollout = s.rollout;
  } else if (problems.length > 0) {
    out.phase = "Degraded";
  }
  out.message =
    problems.length > 0
      ? problems.map((p) => p.message).join("; ")
      : degraded.status === "True"
        ? degraded.message
        : "";
  return out;
}

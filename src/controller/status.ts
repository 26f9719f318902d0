import type {
  Condition,
  HistoryEntry,
  ModelDeployment,
  ModelDeploymentStatus,
} from "../api/v1alpha1/index.js";
import type { RenderedRevision } from "../render/render.js";
import { usesHttpAddOn } from "../render/autoscaler.js";
import { defaultRenderConfig, serviceRef } from "../render/config.js";
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
  "Reconciling",
  "Stalled",
  "Progressing",
  "Degraded",
  "Paused",
  "RolledBack",
  "WaitingForCapacity",
]);

/** Status fields written by the model's jobs under their own field managers; the controller never writes them. */
export const jobOwnedStatusFields = ["drift", "batch", "loadTest"] as const;

export interface StatusInput {
  md: ModelDeployment;
  decision?: RolloutDecision;
  rendered: RenderedRevision[];
  observed: ObservedRevision[];
  /** Spec-level problems found by gather (missing PVC, GPU product nobody offers, ...). */
  problems: Problem[];
  clusterDomain: string;
  /** KEDA's interceptor proxy Service, NAMESPACE/NAME:PORT (--keda-interceptor). */
  kedaInterceptor?: string;
  /** The Gateway a gatewayAPI route goes through, when the controller could read it. */
  gateway?: GatewayView;
  now: string;
}

/** Ready's message at zero replicas: which requests wake the model, and which fail until a pod runs. */
export function scaledToZeroMessage(
  md: ModelDeployment,
  kedaInterceptor: string = defaultRenderConfig.kedaInterceptor,
): string {
  if (!usesHttpAddOn(md))
    return "scaled to zero; the autoscaler's traffic metrics wake it, and requests fail until a pod is ready";
  if (md.spec.traffic.provider === "gatewayAPI")
    return "scaled to zero; a request through the Gateway wakes it (KEDA's interceptor holds it while a pod starts)";
  const i = serviceRef(kedaInterceptor);
  const host = `${md.metadata.name}.${md.metadata.namespace ?? "default"}`;
  return (
    `scaled to zero; a request to KEDA's interceptor (http://${i.name}.${i.namespace}:${i.port}, Host: ${host}) ` +
    "wakes it and is held while a pod starts; requests straight to its Service fail until a pod runs"
  );
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

/** What the three kstatus conditions are computed from: the rollout's decision and the observed revisions. */
interface Facts {
  problems: Problem[];
  /** The revision serving stable traffic (status.stableRevision), and its Deployment as observed. */
  stableId: string | undefined;
  stable: ObservedRevision | undefined;
  /** Replicas the plan gives the stable role. */
  want: number;
  stableAvailable: number;
  /** The revision the plan renders as stable: the new one during a rolling update, else stableId. */
  renderedStableId: string | undefined;
  /** The candidate (canary or preview) in flight. */
  candidate: string | undefined;
  traffic: string;
  /** Ready's message while scaled to zero. */
  scaledToZero: string;
  phase: string | undefined;
  /** The rollout's conditions; rolledBack and waiting only when True. */
  progressing: ConditionInput | undefined;
  rolledBack: ConditionInput | undefined;
  waiting: ConditionInput | undefined;
  failing: ObservedRevision | undefined;
  unschedulable: ObservedRevision | undefined;
  degraded: ConditionInput;
}

const isTrue = (c: ConditionInput | undefined): boolean => c?.status === "True";
const notReady = (reason: string, message: string): ConditionInput => ({
  type: "Ready",
  status: "False",
  reason,
  message,
});

/**
 * Stalled (kstatus: Failed): the controller cannot get to the desired state without a person: a spec
 * problem, a rolled-back candidate (until the spec changes or `modelship retry`), a failed candidate held
 * with autoRollback off (the progress deadline, failed analysis or pods), or pods that fail.
 */
function stalledCondition(f: Facts): ConditionInput {
  const stalled = (reason: string, message: string): ConditionInput => ({
    type: "Stalled",
    status: "True",
    reason,
    message,
  });
  if (f.problems.length > 0)
    return stalled(f.problems[0]!.reason, f.problems.map((p) => p.message).join("; "));
  if (f.rolledBack) return stalled(f.rolledBack.reason, f.rolledBack.message);
  // Waiting for GPUs or room is not a failure, even once the Deployment's own progress deadline passed.
  if (f.waiting)
    return { type: "Stalled", status: "False", reason: f.waiting.reason, message: "waiting for capacity" };
  if (f.phase === "Degraded" && f.progressing && !isTrue(f.progressing))
    return stalled(f.progressing.reason, f.progressing.message);
  if (isTrue(f.degraded)) return stalled(f.degraded.reason, f.degraded.message);
  return { type: "Stalled", status: "False", reason: Reasons.AsExpected, message: "" };
}

/**
 * Ready: the revision the spec asks for serves all of its traffic with every replica available. False while
 * a candidate is in flight, while a rolling update's new revision comes up, and after a rollback, even
 * though the stable revision keeps serving then.
 */
function readyCondition(f: Facts): ConditionInput {
  if (f.problems.length > 0) return notReady(f.problems[0]!.reason, f.problems[0]!.message);
  if (f.rolledBack) return notReady(Reasons.RolledBack, f.rolledBack.message);
  if (f.candidate)
    return notReady(
      Reasons.RolloutInProgress,
      `revision ${f.candidate} is rolling out (${f.traffic}); revision ${f.stableId} serves the rest`,
    );
  if (isTrue(f.progressing) && f.renderedStableId !== undefined && f.renderedStableId !== f.stableId)
    return notReady(
      Reasons.RolloutInProgress,
      `revision ${f.renderedStableId} is rolling out; revision ${f.stableId} serves until it is available`,
    );
  const { stable, want, stableAvailable } = f;
  if (want === 0 && stable)
    return {
      type: "Ready",
      status: "True",
      reason: Reasons.ScaledToZero,
      message: f.scaledToZero,
    };
  if (stable && stableAvailable >= want && want > 0 && !isTrue(f.progressing))
    return {
      type: "Ready",
      status: "True",
      reason: Reasons.Available,
      message: `${stableAvailable}/${want} replicas of revision ${stable.id} available`,
    };
  return notReady(
    f.unschedulable ? Reasons.PodsUnschedulable : f.failing ? Reasons.PodsFailing : Reasons.ReplicasNotReady,
    f.unschedulable?.unschedulable?.message ??
      f.failing?.failed?.message ??
      `${stableAvailable}/${want} replicas available`,
  );
}

/**
 * Reconciling (kstatus: InProgress): work towards the spec is under way: a rollout step, a pause or an
 * analysis of a candidate, a wait for replicas or capacity, or the stable Deployment not yet at the planned
 * size. Never True together with Stalled.
 */
function reconcilingCondition(f: Facts, stalled: ConditionInput, ready: ConditionInput): ConditionInput {
  const reconciling = (reason: string, message: string): ConditionInput => ({
    type: "Reconciling",
    status: "True",
    reason,
    message,
  });
  if (isTrue(stalled))
    return {
      type: "Reconciling",
      status: "False",
      reason: Reasons.Stalled,
      message: "no progress without a change; see the Stalled condition",
    };
  if (f.waiting) return reconciling(f.waiting.reason, f.waiting.message);
  if (f.progressing && isTrue(f.progressing)) return reconciling(f.progressing.reason, f.progressing.message);
  if (!isTrue(ready)) return reconciling(ready.reason, ready.message);
  if (f.stable && f.stable.replicas !== f.want)
    return reconciling(
      Reasons.ScalingReplicas,
      `revision ${f.stable.id}: scaling from ${f.stable.replicas} to ${f.want} replicas`,
    );
  return { type: "Reconciling", status: "False", reason: Reasons.Reconciled, message: "" };
}

/** Pure: everything the controller knows -> the status it wants to write. */
export function desiredStatus(i: StatusInput): ModelDeploymentStatus {
  const { md, decision, observed, problems } = i;
  const prev = md.status ?? {};
  const name = md.metadata.name;
  const stableId = decision?.status.stableRevision;
  const stable = observed.find((r) => r.id === stableId);
  const stablePlanned = decision?.plan.revisions.find((r) => r.role === "stable");
  const want = stablePlanned?.replicas ?? 0;
  const rolloutCondition = (type: string) => decision?.status.conditions.find((c) => c.type === type);

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

  const trueRolloutCondition = (type: string) => {
    const c = rolloutCondition(type);
    return isTrue(c) ? c : undefined;
  };
  const facts: Facts = {
    problems,
    stableId,
    stable,
    want,
    stableAvailable: stable?.availableReplicas ?? 0,
    renderedStableId: i.rendered.find((r) => r.role === "stable")?.id,
    candidate: decision?.status.canaryRevision,
    traffic: trafficSummary(decision),
    scaledToZero: scaledToZeroMessage(i.md, i.kedaInterceptor),
    phase: decision?.status.phase,
    progressing: rolloutCondition("Progressing"),
    rolledBack: trueRolloutCondition("RolledBack"),
    waiting: trueRolloutCondition("WaitingForCapacity"),
    failing,
    unschedulable: observed.find((r) => r.unschedulable),
    degraded,
  };
  const stalled = stalledCondition(facts);
  const ready = readyCondition(facts);
  const reconciling = reconcilingCondition(facts, stalled, ready);

  const endpoints = endpointsOf(md, i.clusterDomain, i.gateway);
  const wanted: ConditionInput[] = [
    ready,
    reconciling,
    stalled,
    degraded,
    ...(decision?.status.conditions ?? []),
  ];
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

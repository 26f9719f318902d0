import type { Condition, HistoryEntry, ModelDeployment } from "../api/v1alpha1/index.js";
import type { RenderPlan, RevisionSpec } from "../render/plan.js";

/**
 * The contract between the controller and the rollout state machine.
 * The controller gathers a RolloutContext from its caches (impure), calls decide(ctx, now) (pure), renders
 * and applies decision.plan, and writes decision.status into the ModelDeployment status.
 */

/** A revision that exists in the cluster: a Deployment named <md>-<id>. */
export interface ObservedRevision {
  id: string;
  /** The spec it was created from (the Deployment's modelship.io/revision-spec annotation). */
  spec: RevisionSpec;
  replicas: number;
  readyReplicas: number;
  availableReplicas: number;
  /** Deployment reports ProgressDeadlineExceeded, or pods crash / fail. */
  failed?: { reason: string; message: string };
  /** Pods Pending because no node has room (e.g. Insufficient nvidia.com/gpu). */
  unschedulable?: { reason: string; message: string };
  /** When the Deployment was created (RFC3339). */
  createdAt?: string;
}

/** One measurement of an analysis template, fetched by the controller before decide(). */
export interface AnalysisMeasurement {
  template: string;
  /** undefined = no data (inconclusive). */
  value?: number;
  /** The same metric for stable, when the template compares against it. */
  stableValue?: number;
  time: string;
}

/** Requests a person made with `modelship promote|abort|retry` (annotations on the ModelDeployment). */
export interface UserRequests {
  promote?: string;
  abort?: string;
  retry?: string;
}

export const requestAnnotations = {
  promote: "modelship.io/promote",
  abort: "modelship.io/abort",
  retry: "modelship.io/retry",
} as const;

export interface RolloutContext {
  md: ModelDeployment;
  /** The revision the current spec renders to (hash of its pod template). */
  desired: { id: string; spec: RevisionSpec };
  observed: ObservedRevision[];
  /** Measurements taken since the current analysis step began. */
  measurements: AnalysisMeasurement[];
  requests: UserRequests;
  /** Free GPUs in the cluster for the desired revision's GPU resource/product (undefined = not a GPU model). */
  freeGPUs?: number;
}

/** Status fields the rollout owns; the controller merges them into the ModelDeployment status. */
export interface RolloutStatus {
  stableRevision?: string;
  canaryRevision?: string;
  currentStepIndex?: number;
  phase: "Healthy" | "Progressing" | "Paused" | "Degraded" | "RolledBack";
  modelVersion?: string;
  conditions: Omit<Condition, "lastTransitionTime" | "observedGeneration">[];
  /** Entries to append to status.history. */
  history: HistoryEntry[];
  /** Opaque bookkeeping kept in status.rollout between reconciles. */
  rollout: Record<string, unknown>;
}

export interface RolloutDecision {
  plan: RenderPlan;
  status: RolloutStatus;
  /** Revision ids whose Deployments may be deleted now. */
  prune: string[];
  /** Analysis templates the controller should measure before the next decide() (empty = none). */
  measure: string[];
  requeueAfterMs?: number;
  events: { type: "Normal" | "Warning"; reason: string; message: string }[];
}

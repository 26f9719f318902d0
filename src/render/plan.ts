import type { z } from "zod";
import type { LoadTest, ModelDeployment, ModelDeploymentSpec } from "../api/v1alpha1/index.js";

/**
 * What defines a revision's pods. A revision keeps the spec it was created from, so the stable revision
 * renders unchanged while the spec already describes the candidate.
 */
export type RevisionSpec = Pick<
  ModelDeploymentSpec,
  "model" | "additionalModels" | "runtime" | "resources" | "scheduling" | "logging" | "podMetadata"
> & {
  feedback: boolean;
  /** spec.monitoring.review: serve or the logger marks low-confidence predictions (absent: none). */
  review?: NonNullable<NonNullable<ModelDeploymentSpec["monitoring"]>["review"]>;
};

/** "old": a previous revision kept running (no Service of its own) until its successor is available. */
export type RevisionRole = "stable" | "canary" | "preview" | "old";

export interface PlannedRevision {
  role: RevisionRole;
  spec: RevisionSpec;
  replicas: number;
}

export interface HeaderRoute {
  match: { name: string; value: string; type: "Exact" | "RegularExpression" }[];
}

/**
 * A load test the rollout is waiting on: render its Job (loadtest-job.ts) against the candidate's Service
 * (`<md>-canary` or `<md>-preview`) and stable's.
 */
export interface LoadTestPlan {
  /** Revision, step and when the step began: names the Job, and the result status.loadTest must carry. */
  runId: string;
  /** Canary step index; -1 for blue-green's pre-promotion test. */
  step: number;
  spec: z.output<typeof LoadTest>;
  candidate: { id: string; role: "canary" | "preview" };
  stable: string;
  /** How long the run may take, the Job's start included; the step stops waiting then. */
  deadlineSeconds: number;
}

/**
 * The decision the rollout state machine hands to the renderer: which revisions run, how many pods each,
 * and how traffic is split. `weights.canary` is the percent sent to the canary revision.
 */
export interface RenderPlan {
  revisions: PlannedRevision[];
  weights: { stable: number; canary: number };
  headerRoute?: HeaderRoute;
  mirror?: { percent: number };
  loadTest?: LoadTestPlan;
}

export function revisionSpecOf(spec: ModelDeploymentSpec): RevisionSpec {
  return {
    model: spec.model,
    runtime: spec.runtime,
    resources: spec.resources,
    scheduling: spec.scheduling,
    logging: spec.logging,
    podMetadata: spec.podMetadata,
    feedback: spec.monitoring?.feedback?.enabled ?? false,
    // only when set: a ModelDeployment serving one model keeps the revision id it had before the field existed
    ...(spec.additionalModels?.length ? { additionalModels: spec.additionalModels } : {}),
    // only when set: a revision without review keeps the template (and so the id) it had before
    ...(spec.monitoring?.review !== undefined ? { review: spec.monitoring.review } : {}),
  };
}

/** Replicas of the serving revision: what the user or the autoscaler set, else the autoscaler's floor, else 1. */
export function desiredReplicas(spec: ModelDeploymentSpec): number {
  return spec.replicas ?? spec.autoscaling?.minReplicas ?? 1;
}

/** The plan with only a stable revision and all traffic on it: steady state, and every rolling update's end. */
export function stablePlan(md: ModelDeployment): RenderPlan {
  return {
    revisions: [{ role: "stable", spec: revisionSpecOf(md.spec), replicas: desiredReplicas(md.spec) }],
    weights: { stable: 100, canary: 0 },
  };
}

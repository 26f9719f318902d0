// ModelDeployments with the status desiredStatus writes at known points of a canary's life, for tests that
// judge that status the way GitOps tools do (kstatus, Argo CD's health check). Each reconcile is the
// controller's: gather (the ModelDeployment and its revisions as they were) -> decide -> render -> status.
import type { ModelDeployment, ModelDeploymentStatus } from "../../api/v1alpha1/index.js";
import { defaultRenderConfig } from "../../render/config.js";
import { render } from "../../render/render.js";
import { canaryMD, Sim } from "../../rollout/testing/sim.js";
import { desiredStatus, type Problem } from "../status.js";

/** A ModelDeployment object as the API server returns it. */
export type MdObject = {
  apiVersion: string;
  kind: string;
  metadata: ModelDeployment["metadata"];
  spec: unknown;
  status: ModelDeploymentStatus;
};

/** A Sim that also keeps the status desiredStatus writes, as the controller does. */
export class StatusSim {
  readonly sim: Sim;
  status: ModelDeploymentStatus = {};

  constructor(md: ModelDeployment) {
    this.sim = new Sim(md);
  }

  /** One reconcile; with problems, gather found spec-level problems and nothing is decided or applied. */
  reconcile(problems: Problem[] = []): this {
    // The Sim keeps the status decide() reads (its book); the status written last is what desiredStatus merges into.
    const md: ModelDeployment = { ...structuredClone(this.sim.md), status: structuredClone(this.status) };
    const observed = [...this.sim.observed.values()].map((o) => structuredClone(o));
    const decision = problems.length > 0 ? undefined : this.sim.decide();
    const rendered = decision ? render(md, decision.plan, defaultRenderConfig).revisions : [];
    this.status = desiredStatus({
      md,
      ...(decision ? { decision } : {}),
      rendered,
      observed,
      problems,
      clusterDomain: "cluster.local",
      now: this.sim.now.toISOString(),
    });
    return this;
  }

  /** Reconciles until the status stops changing (at most n times). */
  settle(n = 4): this {
    for (let i = 0; i < n; i++) this.reconcile();
    return this;
  }

  object(): MdObject {
    const md = this.sim.md;
    return {
      apiVersion: "modelship.io/v1alpha1",
      kind: "ModelDeployment",
      metadata: structuredClone(md.metadata),
      spec: structuredClone(md.spec),
      status: structuredClone(this.status),
    };
  }

  condition(type: string) {
    return this.status.conditions?.find((c) => c.type === type);
  }
}

const steps = [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }];

/** A canary (25% -> pause until promoted -> 75%) serving v1, all pods ready. */
export function servingV1(rollout: Record<string, unknown> = {}): StatusSim {
  return new StatusSim(canaryMD(steps, {}, rollout)).settle();
}

/**
 * The points of a canary's life GitOps tools must tell apart, each with the status the controller writes:
 * - `done`: v1 serves all traffic.
 * - `midCanary`: v2 released, its canary pods starting at 25%.
 * - `paused`: v2 at 25%, paused until promoted.
 * - `promoted`: v2 promoted and serving all traffic.
 * - `rolledBack`: v2's pods crash; rolled back to v1, waiting for a new spec or `modelship retry`.
 * - `specProblem`: v2's PersistentVolumeClaim does not exist.
 * - `progressDeadline`: v2's pods never become ready; with autoRollback off the rollout holds past its deadline.
 * - `waitingForCapacity`: a GPU canary whose pods cannot be scheduled.
 * - `notObserved`: the spec changed and the controller has not seen it yet.
 */
export function statusScenarios(): Record<string, MdObject> {
  const out: Record<string, MdObject> = {};
  out.done = servingV1().object();

  const canary = servingV1();
  canary.sim.health.set("v2", "pending");
  canary.sim.release("v2");
  out.midCanary = canary.reconcile().object();
  canary.sim.health.set("v2", "ready");
  out.paused = canary.settle().object();
  canary.sim.request("promote");
  out.promoted = canary.settle(6).object();

  const failing = servingV1();
  failing.sim.health.set("v2", "failing");
  failing.sim.release("v2");
  out.rolledBack = failing.settle().object();

  const problem = servingV1();
  problem.sim.release("v2");
  out.specProblem = problem
    .reconcile([
      {
        reason: "PVCNotFound",
        message:
          "spec.model.uri: PersistentVolumeClaim payments/store does not exist; create it or fix the uri",
      },
    ])
    .object();

  const stuck = servingV1({ autoRollback: false, progressDeadlineSeconds: 60 });
  stuck.sim.health.set("v2", "pending");
  stuck.sim.release("v2");
  stuck.reconcile().reconcile();
  stuck.sim.advance(61_000);
  out.progressDeadline = stuck.reconcile().object();

  const gpu = new StatusSim(
    canaryMD([{ setWeight: 50 }], {
      resources: { cpu: "1", memory: "1Gi", gpu: { count: 1 } },
      runtime: { executionProvider: "cuda" },
    }),
  ).settle();
  gpu.sim.health.set("v2", "unschedulable");
  gpu.sim.release("v2");
  out.waitingForCapacity = gpu.reconcile().reconcile().object();

  const unseen = servingV1().object();
  unseen.metadata.generation = (unseen.metadata.generation ?? 1) + 1;
  out.notObserved = unseen;
  return out;
}

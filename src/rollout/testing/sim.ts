// A small in-memory "cluster" for table tests of decide(): it applies each decision the way the controller
// does (status merged, Deployments sized to the plan, pruned ones deleted) and lets a test say how pods
// behave and move the clock. Not a stand-in for Kubernetes in any e2e claim: only for the pure state machine.
import {
  parseModelDeployment,
  type ModelDeployment,
  type ModelDeploymentInput,
} from "../../api/v1alpha1/index.js";
import { defaultRenderConfig } from "../../render/config.js";
import { revisionSpecOf, type RenderPlan, type RevisionSpec } from "../../render/plan.js";
import { revisionOf } from "../../render/revision.js";
import { decide } from "../decide.js";
import type { AnalysisMeasurement, ObservedRevision, RolloutDecision, UserRequests } from "../types.js";

export type PodHealth = "ready" | "pending" | "failing" | "unschedulable";

export function parseMD(input: unknown): ModelDeployment {
  const r = parseModelDeployment(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

/** A canary ModelDeployment over Gateway API with the given steps and overrides of spec fields. */
export function canaryMD(
  steps: unknown[],
  spec: Record<string, unknown> = {},
  rollout: Record<string, unknown> = {},
): ModelDeployment {
  return parseMD({
    apiVersion: "modelship.io/v1alpha1",
    kind: "ModelDeployment",
    metadata: { name: "fraud", namespace: "payments", generation: 1 },
    spec: {
      model: { name: "fraud", version: "v1", uri: "pvc://store/fraud/v1/model.onnx" },
      replicas: 4,
      traffic: { provider: "gatewayAPI", parentRefs: [{ name: "gw" }] },
      ...spec,
      rollout: { strategy: "canary", canary: { steps }, ...rollout },
    },
  } as ModelDeploymentInput);
}

export function revisionId(md: ModelDeployment, spec: RevisionSpec): string {
  return revisionOf(md, defaultRenderConfig, spec).id;
}

export class Sim {
  md: ModelDeployment;
  now: Date;
  observed = new Map<string, ObservedRevision>();
  /** How pods of a revision (by model version) behave; default ready. */
  health = new Map<string, PodHealth>();
  requests: UserRequests = {};
  measurements: AnalysisMeasurement[] = [];
  freeGPUs: number | undefined;
  last!: RolloutDecision;
  /** Every decision so far. */
  log: RolloutDecision[] = [];
  private nonce = 0;

  constructor(md: ModelDeployment, start = "2026-01-01T00:00:00.000Z") {
    this.md = structuredClone(md);
    this.now = new Date(start);
  }

  /** Reaches the steady state of the current spec (a first deployment, all pods ready). */
  settle(): this {
    for (let i = 0; i < 3; i++) this.decide();
    return this;
  }

  /** Changes the model version (a new revision). */
  release(version: string, patch: (md: ModelDeployment) => void = () => {}): this {
    // a fresh model object: specs already handed out (observed revisions) must not change with it
    this.md.spec.model = { ...this.md.spec.model, version, uri: `pvc://store/fraud/${version}/model.onnx` };
    patch(this.md);
    this.md.metadata.generation = (this.md.metadata.generation ?? 1) + 1;
    return this;
  }

  idOf(version: string): string {
    const spec = revisionSpecOf(this.md.spec);
    return revisionId(this.md, {
      ...spec,
      model: { ...spec.model, version, uri: `pvc://store/fraud/${version}/model.onnx` },
    });
  }

  request(kind: keyof UserRequests, value?: string): this {
    this.requests[kind] = value ?? `n${++this.nonce}`;
    return this;
  }

  advance(ms: number): this {
    this.now = new Date(this.now.getTime() + ms);
    return this;
  }

  measure(template: string, value: number | undefined, stableValue?: number): this {
    this.measurements.push({
      template,
      ...(value !== undefined ? { value } : {}),
      ...(stableValue !== undefined ? { stableValue } : {}),
      time: this.now.toISOString(),
    });
    return this;
  }

  /** One reconcile: decide, then apply the decision to status and "Deployments". */
  decide(): RolloutDecision {
    const spec = revisionSpecOf(this.md.spec);
    const d = decide(
      {
        md: this.md,
        desired: { id: revisionId(this.md, spec), spec },
        observed: [...this.observed.values()].map((o) => structuredClone(o)),
        measurements: this.measurements,
        requests: { ...this.requests },
        ...(this.freeGPUs !== undefined ? { freeGPUs: this.freeGPUs } : {}),
      },
      this.now,
    );
    this.apply(d);
    this.last = d;
    this.log.push(d);
    return d;
  }

  private apply(d: RolloutDecision): void {
    const st = d.status;
    const prev = this.md.status ?? {};
    this.md.status = {
      ...prev,
      ...(st.stableRevision !== undefined ? { stableRevision: st.stableRevision } : {}),
      phase: st.phase,
      ...(st.modelVersion !== undefined ? { modelVersion: st.modelVersion } : {}),
      conditions: st.conditions.map((c) => ({ ...c, lastTransitionTime: this.now.toISOString() })),
      history: [...(prev.history ?? []), ...st.history].slice(-20),
      rollout: st.rollout,
    };
    if (st.canaryRevision !== undefined) this.md.status.canaryRevision = st.canaryRevision;
    else delete this.md.status.canaryRevision;
    if (st.currentStepIndex !== undefined) this.md.status.currentStepIndex = st.currentStepIndex;
    else delete this.md.status.currentStepIndex;
    for (const id of d.prune) this.observed.delete(id);
    for (const r of d.plan.revisions) {
      const id = revisionId(this.md, r.spec);
      const h = this.health.get(r.spec.model.version) ?? "ready";
      const o: ObservedRevision = this.observed.get(id) ?? {
        id,
        spec: structuredClone(r.spec),
        replicas: 0,
        readyReplicas: 0,
        availableReplicas: 0,
        createdAt: this.now.toISOString(),
      };
      o.replicas = r.replicas;
      const up = h === "ready" ? r.replicas : 0;
      o.readyReplicas = up;
      o.availableReplicas = up;
      delete o.failed;
      delete o.unschedulable;
      if (h === "failing")
        o.failed = { reason: "CrashLoopBackOff", message: "container serve is crash looping" };
      if (h === "unschedulable") {
        o.unschedulable = {
          reason: "Unschedulable",
          message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        };
      }
      this.observed.set(id, o);
    }
  }

  /** Canary weight and replicas of each role in the last plan, for compact assertions. */
  get shape(): { weight: number; stable?: number; canary?: number; preview?: number; old?: number } {
    const p: RenderPlan = this.last.plan;
    const out: { weight: number; stable?: number; canary?: number; preview?: number; old?: number } = {
      weight: p.weights.canary,
    };
    for (const r of p.revisions) out[r.role] = r.replicas;
    return out;
  }

  condition(type: string) {
    return this.last.status.conditions.find((c) => c.type === type);
  }
}

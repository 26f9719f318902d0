/**
 * The pure middle of a reconcile: from a snapshot (src/controller/snapshot.ts) to what should exist, what
 * should go, and what is wrong. No I/O, so every decision a reconcile makes is unit-tested without a cluster.
 */
import { usesInterceptor } from "../api/v1alpha1/autoscaling.js";
import type { KubeObject } from "../k8s/client.js";
import { childKinds } from "../k8s/resources.js";
import type { RenderConfig } from "../render/config.js";
import { labelKeys } from "../render/labels.js";
import type { K8sObject } from "../render/object.js";
import { revisionSpecOf } from "../render/plan.js";
import { render, type RenderedRevision } from "../render/render.js";
import { revisionOf } from "../render/revision.js";
import { revisionsConfigMap } from "../render/revisions-configmap.js";
import { freeGPUs } from "../rollout/capacity.js";
import { decide } from "../rollout/decide.js";
import { keptRevisionsAfter } from "../rollout/revision-history.js";
import {
  requestAnnotations,
  type ObservedRevision,
  type RolloutContext,
  type RolloutDecision,
} from "../rollout/types.js";
import { Reasons } from "./conditions.js";
import { observeRevision } from "./revisions.js";
import type { Snapshot } from "./snapshot.js";
import type { Problem } from "./status.js";

export interface ReconcilePlan {
  observed: ObservedRevision[];
  /** Spec-level problems: when there are any, nothing is applied or pruned. */
  problems: Problem[];
  decision: RolloutDecision;
  /** Every object that should exist, rendered from the decision's plan. */
  objects: K8sObject[];
  revisions: RenderedRevision[];
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** What each owned Deployment says about its revision; pods are read only for a revision not yet ready. */
export function observedRevisions(s: Snapshot): ObservedRevision[] {
  const observed: ObservedRevision[] = [];
  for (const dep of s.owned.get("Deployment") ?? []) {
    const d = dep as Obj;
    const ready = (d.status?.readyReplicas ?? 0) >= (d.spec?.replicas ?? 0);
    const revision = dep.metadata?.labels?.[labelKeys.revision];
    const pods = ready ? [] : s.pods.filter((p) => p.metadata?.labels?.[labelKeys.revision] === revision);
    const rev = observeRevision(dep, pods);
    if (rev) observed.push(rev);
  }
  return observed;
}

/** Things a valid spec can still get wrong about the cluster: a missing PVC, a GPU nobody has, a router not installed. */
export function environmentProblems(s: Snapshot): Problem[] {
  const { md } = s;
  const problems: Problem[] = [];
  const ns = md.metadata.namespace ?? "default";
  for (const claim of s.modelClaims.filter((c) => !c.exists))
    problems.push({
      reason: Reasons.PVCNotFound,
      message: `${claim.field}: PersistentVolumeClaim ${ns}/${claim.name} does not exist; create it or fix the uri`,
    });
  const gpu = md.spec.resources.gpu;
  if (gpu && gpu.count > 0 && s.nodesSynced) {
    const product = (n: KubeObject) => n.metadata?.labels?.["nvidia.com/gpu.product"];
    if (gpu.product && !s.nodes.some((n) => product(n) === gpu.product)) {
      const offered = [...new Set(s.nodes.map(product).filter(Boolean))].join(", ") || "none";
      problems.push({
        reason: Reasons.GPUProductUnavailable,
        message: `spec.resources.gpu.product: no node offers ${gpu.product} (offered: ${offered})`,
      });
    }
    if (gpu.migProfile) {
      const res = `nvidia.com/mig-${gpu.migProfile}`;
      if (!s.nodes.some((n) => (n as Obj).status?.capacity?.[res] !== undefined))
        problems.push({
          reason: Reasons.MIGProfileUnavailable,
          message: `spec.resources.gpu.migProfile: no node offers ${res}`,
        });
    }
  }
  const need = (k: string, what: string, field: string) => {
    if (!s.availableKinds.has(k))
      problems.push({
        reason: Reasons.ProviderNotInstalled,
        message: `${field}: ${what} (${k}) is not installed in this cluster`,
      });
  };
  if (md.spec.traffic.provider === "gatewayAPI") need("HTTPRoute", "Gateway API", "spec.traffic.provider");
  if (md.spec.traffic.provider === "istio") need("VirtualService", "Istio", "spec.traffic.provider");
  const a = md.spec.autoscaling;
  if (a && usesInterceptor(a)) {
    need("ScaledObject", "KEDA", "spec.autoscaling.minReplicas");
    need("HTTPScaledObject", "KEDA's HTTP add-on", "spec.autoscaling.activation");
  } else if (a && (a.minReplicas === 0 || a.concurrency !== undefined || a.requestsPerSecond !== undefined))
    need("ScaledObject", "KEDA", "spec.autoscaling");
  return problems;
}

/** Free GPUs of the kind the desired revision asks for, only while a GPU rollout is under way. */
export function freeGPUsDuringRollout(s: Snapshot, desiredId: string): number | undefined {
  const { md } = s;
  const gpu = md.spec.resources.gpu;
  if (!gpu || gpu.count === 0) return undefined;
  const rolling =
    md.status?.stableRevision !== undefined &&
    (md.status.stableRevision !== desiredId || md.status.canaryRevision !== undefined);
  if (!rolling) return undefined;
  const resource = gpu.migProfile ? `nvidia.com/mig-${gpu.migProfile}` : "nvidia.com/gpu";
  const nodes = s.nodes.filter(
    (n) =>
      Number((n as Obj).status?.allocatable?.[resource] ?? 0) > 0 &&
      (!gpu.product || n.metadata?.labels?.["nvidia.com/gpu.product"] === gpu.product),
  );
  return freeGPUs(nodes as never, s.gpuPods as never, resource, gpu.product);
}

/** The user's requests (`modelship promote|abort|retry`), read from the ModelDeployment's annotations. */
function requestsOf(s: Snapshot): RolloutContext["requests"] {
  const a = s.md.metadata.annotations ?? {};
  const requests: RolloutContext["requests"] = {};
  if (a[requestAnnotations.promote]) requests.promote = a[requestAnnotations.promote];
  if (a[requestAnnotations.abort]) requests.abort = a[requestAnnotations.abort];
  if (a[requestAnnotations.retry]) requests.retry = a[requestAnnotations.retry];
  return requests;
}

/** Decide the rollout's next move and render every object it wants, with the kept-revisions ConfigMap. */
export function planReconcile(s: Snapshot, cfg: RenderConfig, now: Date): ReconcilePlan {
  const { md } = s;
  const observed = observedRevisions(s);
  const desiredSpec = revisionSpecOf(md.spec);
  const desiredId = revisionOf(md, cfg, desiredSpec).id;
  const ctx: RolloutContext = {
    md,
    desired: { id: desiredId, spec: desiredSpec },
    observed,
    measurements: s.measurements,
    requests: requestsOf(s),
  };
  const gpus = freeGPUsDuringRollout(s, desiredId);
  if (gpus !== undefined) ctx.freeGPUs = gpus;
  const decision = decide(ctx, now);
  const { objects, revisions } = render(md, decision.plan, cfg);
  const kept = revisionsConfigMap(
    md,
    keptRevisionsAfter(
      s.keptRevisions,
      md.metadata.uid,
      decision.status,
      md.spec.rollout.revisionHistoryLimit,
    ),
  );
  if (kept) objects.push(kept);
  return { observed, problems: environmentProblems(s), decision, objects, revisions };
}

/**
 * The owned children to delete: those no longer rendered, except a revision's Deployment the rollout still
 * wants around (only the decision's `prune` list may go) and anything already being deleted.
 */
export function toPrune(s: Snapshot, objects: K8sObject[], decision: RolloutDecision): KubeObject[] {
  const wanted = new Set(objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  const prunable = new Set(decision.prune);
  const out: KubeObject[] = [];
  for (const t of childKinds) {
    for (const o of s.owned.get(t.kind) ?? []) {
      if (wanted.has(`${t.kind}/${o.metadata?.name}`) || o.metadata?.deletionTimestamp) continue;
      if (t.kind === "Deployment") {
        const rev = o.metadata?.labels?.[labelKeys.revision];
        if (rev && !prunable.has(rev)) continue;
      }
      out.push({ ...o, kind: t.kind });
    }
  }
  return out;
}

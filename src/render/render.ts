import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { autoscaler } from "./autoscaler.js";
import type { RenderConfig } from "./config.js";
import { batchObjects, driftObjects } from "./jobs.js";
import type { K8sObject } from "./object.js";
import type { RenderPlan } from "./plan.js";
import { revisionOf } from "./revision.js";
import { httpRoute } from "./traffic/httproute.js";
import { virtualService } from "./traffic/virtualservice.js";
import { variantsConfigMap } from "./variants.js";
import { deployment, podDisruptionBudget, services } from "./workloads.js";

export interface RenderedRevision {
  role: string;
  id: string;
  deploymentName: string;
  replicas: number;
  modelVersion: string;
}

export interface Rendered {
  objects: K8sObject[];
  revisions: RenderedRevision[];
}

/**
 * Pure: (ModelDeployment, plan, config) -> every child object. No I/O, no clock, no randomness, so the same
 * input always renders byte-identical output (golden tests, and zero writes on a resync).
 */
export function render(md: ModelDeployment, plan: RenderPlan, cfg: RenderConfig): Rendered {
  const revs = plan.revisions.map((p) => ({ planned: p, rev: revisionOf(md, cfg, p.spec) }));
  const objects: K8sObject[] = [];
  for (const { planned, rev } of revs) objects.push(deployment(md, rev, planned));
  objects.push(
    ...services(
      md,
      revs.map(({ planned, rev }) => ({ role: planned.role, id: rev.id })),
    ),
  );
  const variants = variantsConfigMap(
    md,
    revs.map(({ planned, rev }) => ({
      role: planned.role,
      id: rev.id,
      logging: planned.spec.logging.enabled,
    })),
  );
  if (variants) objects.push(variants);
  const scaler = autoscaler(md);
  if (scaler) objects.push(scaler);
  objects.push(podDisruptionBudget(md));
  if (md.spec.traffic.provider === "gatewayAPI") objects.push(httpRoute(md, plan));
  if (md.spec.traffic.provider === "istio") objects.push(virtualService(md, plan));
  objects.push(...driftObjects(md, cfg), ...batchObjects(md, cfg));
  return {
    objects,
    revisions: revs.map(({ planned, rev }) => ({
      role: planned.role,
      id: rev.id,
      deploymentName: rev.deploymentName,
      replicas: planned.replicas,
      modelVersion: planned.spec.model.version,
    })),
  };
}

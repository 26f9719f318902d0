import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { autoscaler } from "./autoscaler.js";
import { collectorTokenSecret, sendsCollectorToken } from "./collector-token.js";
import { eventsArchiveSecret } from "./events-archive.js";
import type { RenderConfig } from "./config.js";
import { batchObjects, driftObjects } from "./jobs.js";
import { loadTestObjects } from "./loadtest-job.js";
import type { K8sObject } from "./object.js";
import type { RenderPlan } from "./plan.js";
import { revisionOf } from "./revision.js";
import { routerFor, routerPlan } from "./traffic/router.js";
import { dataPlaneMirror, variantsConfigMap } from "./variants.js";
import { loggerSendsToken } from "./pod.js";
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
      plan.weights.canary,
    ),
  );
  const variants = variantsConfigMap(
    md,
    revs.map(({ planned, rev }) => ({
      role: planned.role,
      id: rev.id,
      logging: planned.spec.logging.enabled,
    })),
    dataPlaneMirror(md, plan, cfg),
  );
  if (variants) objects.push(variants);
  const tokenUsers =
    revs.some(({ planned }) => loggerSendsToken(cfg, planned.spec)) ||
    (md.spec.monitoring?.drift !== undefined && sendsCollectorToken(cfg, cfg.eventsUrl));
  if (cfg.collectorToken !== undefined && tokenUsers)
    objects.push(collectorTokenSecret(md, cfg.collectorToken));
  if (md.spec.monitoring?.drift !== undefined && cfg.eventsArchive?.credentials)
    objects.push(eventsArchiveSecret(md, cfg.eventsArchive.credentials));
  const scaler = autoscaler(md);
  if (scaler) objects.push(scaler);
  objects.push(podDisruptionBudget(md));
  const route = routerFor(md).desired(md, routerPlan(md, plan), cfg);
  if (route) objects.push(route);
  objects.push(...driftObjects(md, cfg), ...batchObjects(md, cfg));
  if (plan.loadTest) objects.push(...loadTestObjects(md, plan.loadTest, cfg));
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

import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { commonLabels } from "./labels.js";
import type { K8sObject } from "./object.js";
import type { RenderPlan, RevisionRole } from "./plan.js";
import { ports, type RenderConfig } from "./config.js";
import type { MirrorTarget } from "../runtime/mirror.js";

/**
 * Which variant each revision's pods serve as, for the logger's events. A pod template cannot say it: the
 * revision id is a hash of the template, and a promotion must not restart pods. So the controller writes the
 * roles into this ConfigMap, every logger mounts it and re-reads the file named for its own revision.
 */
export function variantsConfigMapName(mdName: string): string {
  return `${mdName}-variants`;
}

/** The event variant of a role: an old revision still serves as the stable it was. */
export function variantOfRole(role: RevisionRole): "stable" | "canary" | "preview" {
  return role === "old" ? "stable" : role;
}

/**
 * The data-plane mirror's target while a setMirror step is on and spec.traffic.mirror is dataPlane: the
 * canary's Service, and the share of requests the stable pods copy to it.
 */
export function dataPlaneMirror(
  md: ModelDeployment,
  plan: RenderPlan,
  cfg: RenderConfig,
): MirrorTarget | undefined {
  if (plan.mirror === undefined || md.spec.traffic.mirror !== "dataPlane") return undefined;
  if (!plan.revisions.some((r) => r.role === "canary")) return undefined;
  const ns = md.metadata.namespace ?? "default";
  return {
    url: `http://${md.metadata.name}-canary.${ns}.svc.${cfg.clusterDomain}:${ports.service}`,
    percent: plan.mirror.percent,
  };
}

/**
 * data: revision id -> variant, for every planned revision whose pods run the logger; and, while the data
 * plane mirrors, `<id>.mirror` -> the mirror target (JSON) for the revisions serving as stable, which their
 * front re-reads (--mirror-file) and copies requests by.
 */
export function variantsConfigMap(
  md: ModelDeployment,
  revs: { role: RevisionRole; id: string; logging: boolean }[],
  mirror?: MirrorTarget,
): K8sObject | undefined {
  const logged = revs.filter((r) => r.logging);
  if (logged.length === 0) return undefined;
  const mirrors =
    mirror === undefined
      ? []
      : logged
          .filter((r) => variantOfRole(r.role) === "stable")
          .map((r) => [`${r.id}.mirror`, JSON.stringify(mirror)] as const);
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: variantsConfigMapName(md.metadata.name),
      namespace: md.metadata.namespace,
      labels: commonLabels(md.metadata.name, "inference"),
    },
    data: Object.fromEntries([...logged.map((r) => [r.id, variantOfRole(r.role)] as const), ...mirrors]),
  };
}

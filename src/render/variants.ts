import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { commonLabels } from "./labels.js";
import type { K8sObject } from "./object.js";
import type { RevisionRole } from "./plan.js";

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

/** data: revision id -> variant, for every planned revision whose pods run the logger. */
export function variantsConfigMap(
  md: ModelDeployment,
  revs: { role: RevisionRole; id: string; logging: boolean }[],
): K8sObject | undefined {
  const logged = revs.filter((r) => r.logging);
  if (logged.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: variantsConfigMapName(md.metadata.name),
      namespace: md.metadata.namespace,
      labels: commonLabels(md.metadata.name, "inference"),
    },
    data: Object.fromEntries(logged.map((r) => [r.id, variantOfRole(r.role)])),
  };
}

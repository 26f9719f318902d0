import { createHash } from "node:crypto";
import type { ModelDeployment } from "../api/v1alpha1/index.js";
import type { RenderConfig } from "./config.js";
import type { K8sObject } from "./object.js";
import type { RevisionSpec } from "./plan.js";
import { podTemplate } from "./pod.js";
import { canonicalJSON } from "./canonical-json.js";

export { canonicalJSON };

/** A revision id: 10 hex characters of the SHA-256 of its pod template. */
export function templateHash(template: K8sObject): string {
  return createHash("sha256").update(canonicalJSON(template)).digest("hex").slice(0, 10);
}

export interface Revision {
  /** The hash, used in labels and status. */
  id: string;
  /** The Deployment name: <md>-<id>. */
  deploymentName: string;
  template: K8sObject;
}

export function revisionOf(md: ModelDeployment, cfg: RenderConfig, spec: RevisionSpec): Revision {
  const template = podTemplate(md, cfg, spec);
  const id = templateHash(template);
  return { id, deploymentName: `${md.metadata.name}-${id}`, template };
}

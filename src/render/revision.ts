import { createHash } from "node:crypto";
import type { ModelDeployment } from "../api/v1alpha1/index.js";
import type { RenderConfig } from "./config.js";
import type { K8sObject } from "./object.js";
import type { RevisionSpec } from "./plan.js";
import { podTemplate } from "./pod.js";

/** JSON with object keys sorted, so equal templates hash equally whatever order they were built in. */
export function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

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

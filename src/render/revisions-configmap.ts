import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { commonLabels } from "./labels.js";
import type { K8sObject } from "./object.js";
import type { RevisionSpec } from "./plan.js";

/** A promoted revision kept so `modelship rollback --to-revision` can write its spec back. */
export interface KeptRevision {
  id: string;
  modelVersion: string;
  /** When it last became the stable revision (RFC3339). */
  promotedAt: string;
  spec: RevisionSpec;
}

export function revisionsConfigMapName(mdName: string): string {
  return `${mdName}-revisions`;
}

/**
 * The kept revisions, one data key per revision id holding its JSON. A ConfigMap rather than the status:
 * every cached ModelDeployment (in the controller and in every watcher) would carry up to 21 full specs,
 * while here they stay compact strings that only the controller and `modelship rollback|status` read.
 */
export function revisionsConfigMap(md: ModelDeployment, kept: KeptRevision[]): K8sObject | undefined {
  if (kept.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: revisionsConfigMapName(md.metadata.name),
      namespace: md.metadata.namespace,
      labels: commonLabels(md.metadata.name, "revision-history"),
    },
    data: Object.fromEntries(kept.map((k) => [k.id, JSON.stringify(k)])),
  };
}

/** Reads the ConfigMap's data back, newest first; entries that do not parse are skipped. */
export function readKeptRevisions(data: Record<string, string> | undefined): KeptRevision[] {
  const kept: KeptRevision[] = [];
  for (const [key, value] of Object.entries(data ?? {})) {
    let v: Partial<KeptRevision>;
    try {
      v = JSON.parse(value) as Partial<KeptRevision>;
    } catch {
      continue;
    }
    if (
      v?.id !== key ||
      typeof v.promotedAt !== "string" ||
      typeof v.spec?.model?.version !== "string" ||
      typeof v.modelVersion !== "string"
    )
      continue;
    kept.push(v as KeptRevision);
  }
  return kept.sort(newestFirst);
}

export function newestFirst(a: KeptRevision, b: KeptRevision): number {
  return Date.parse(b.promotedAt) - Date.parse(a.promotedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { commonLabels } from "./labels.js";
import type { K8sObject } from "./object.js";

/**
 * A Secret beside a ModelDeployment holding installation values its pods need (a Secret lives in one
 * namespace). As data, not stringData, with sorted keys: the live object holds data, so unchanged values
 * compare equal and cause no write.
 */
export function modelSecret(
  md: ModelDeployment,
  name: string,
  component: string,
  values: Record<string, string>,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: md.metadata.namespace, labels: commonLabels(md.metadata.name, component) },
    type: "Opaque",
    data: Object.fromEntries(
      Object.entries(values)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
    ),
  };
}

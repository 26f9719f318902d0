import type { K8sObject } from "./object.js";

type PolicyRule = { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] };

/**
 * A job's own identity: its ServiceAccount and a Role holding exactly `rules`, bound to it, all named `name`
 * (the drift, batch and load-test jobs each write their results into the ModelDeployment's status).
 */
export function jobIdentity(
  name: string,
  namespace: string | undefined,
  labels: Record<string, string>,
  rules: PolicyRule[],
): K8sObject[] {
  const metadata = { name, namespace, labels };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace }],
    },
  ];
}

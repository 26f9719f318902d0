import { apiVersion, kind, type ModelDeployment } from "../api/v1alpha1/index.js";
import { commonLabels } from "./labels.js";
import type { K8sObject } from "./object.js";

/** KEDA when scaling to zero or on traffic metrics (HPA cannot do either without an adapter), else an HPA. */
export function usesKeda(md: ModelDeployment): boolean {
  const a = md.spec.autoscaling;
  return (
    a !== undefined &&
    (a.minReplicas === 0 || a.concurrency !== undefined || a.requestsPerSecond !== undefined)
  );
}

// The autoscaler scales the ModelDeployment through its scale subresource, as Argo Rollouts does, so it keeps
// working across revisions; the controller spreads spec.replicas over them.
function scaleTarget(md: ModelDeployment) {
  return { apiVersion, kind, name: md.metadata.name };
}

export function autoscaler(md: ModelDeployment): K8sObject | undefined {
  const a = md.spec.autoscaling;
  if (!a) return undefined;
  const meta = {
    name: md.metadata.name,
    namespace: md.metadata.namespace,
    labels: commonLabels(md.metadata.name, "autoscaling"),
  };
  const model = md.spec.model.name;
  if (usesKeda(md)) {
    const triggers: Record<string, unknown>[] = [];
    if (a.cpuUtilization)
      triggers.push({
        type: "cpu",
        metricType: "Utilization",
        metadata: { value: String(a.cpuUtilization) },
      });
    if (a.memoryUtilization)
      triggers.push({
        type: "memory",
        metricType: "Utilization",
        metadata: { value: String(a.memoryUtilization) },
      });
    const sel = `namespace="${md.metadata.namespace ?? "default"}",model="${model}"`;
    if (a.concurrency)
      triggers.push({
        type: "prometheus",
        metadata: {
          serverAddress: a.prometheusAddress,
          query: `sum(modelship_inflight_requests{${sel}})`,
          threshold: String(a.concurrency),
          activationThreshold: "0",
        },
      });
    if (a.requestsPerSecond)
      triggers.push({
        type: "prometheus",
        metadata: {
          serverAddress: a.prometheusAddress,
          query: `sum(rate(modelship_requests_total{${sel}}[1m]))`,
          threshold: String(a.requestsPerSecond),
          activationThreshold: "0",
        },
      });
    return {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: meta,
      spec: {
        scaleTargetRef: scaleTarget(md),
        minReplicaCount: a.minReplicas,
        maxReplicaCount: a.maxReplicas,
        cooldownPeriod: a.cooldownSeconds,
        triggers,
      },
    };
  }
  const metrics: Record<string, unknown>[] = [];
  for (const [res, target] of [
    ["cpu", a.cpuUtilization],
    ["memory", a.memoryUtilization],
  ] as const) {
    if (target)
      metrics.push({
        type: "Resource",
        resource: { name: res, target: { type: "Utilization", averageUtilization: target } },
      });
  }
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: meta,
    spec: {
      scaleTargetRef: scaleTarget(md),
      minReplicas: a.minReplicas,
      maxReplicas: a.maxReplicas,
      metrics,
    },
  };
}

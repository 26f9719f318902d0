import { apiVersion, kind, type ModelDeployment } from "../api/v1alpha1/index.js";
import { usesInterceptor } from "../api/v1alpha1/autoscaling.js";
import { scrapeLabels } from "../observability/monitoring.js";
import { ports } from "./config.js";
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

/** Scale to zero woken by KEDA's HTTP add-on (an HTTPScaledObject), rather than a ScaledObject or an HPA. */
export function usesHttpAddOn(md: ModelDeployment): boolean {
  return md.spec.autoscaling !== undefined && usesInterceptor(md.spec.autoscaling);
}

/** The Host names the interceptor routes to a model: its Service's cluster names, then the user's. */
export function interceptorHosts(md: ModelDeployment): string[] {
  const name = md.metadata.name;
  const ns = md.metadata.namespace ?? "default";
  const own = [`${name}.${ns}`, `${name}.${ns}.svc`, `${name}.${ns}.svc.cluster.local`];
  return [...new Set([...own, ...(md.spec.autoscaling?.hosts ?? [])])];
}

/**
 * Scale to zero with activation: KEDA's HTTP add-on turns this into a ScaledObject on the same scale
 * subresource, and its interceptor holds each request for the model's hosts until the endpoint Service has a
 * ready pod. It scales on what the interceptor counts: requests in flight (concurrency) or per second.
 */
function httpScaledObject(md: ModelDeployment, meta: K8sObject["metadata"]): K8sObject {
  const a = md.spec.autoscaling!;
  const scalingMetric =
    a.requestsPerSecond !== undefined
      ? {
          requestRate: {
            targetValue: Math.max(1, Math.ceil(a.requestsPerSecond)),
            window: "1m",
            granularity: "1s",
          },
        }
      : { concurrency: { targetValue: a.concurrency } };
  return {
    apiVersion: "http.keda.sh/v1alpha1",
    kind: "HTTPScaledObject",
    metadata: meta,
    spec: {
      hosts: interceptorHosts(md),
      scaleTargetRef: { ...scaleTarget(md), service: md.metadata.name, port: ports.service },
      replicas: { min: 0, max: a.maxReplicas },
      scaledownPeriod: a.cooldownSeconds,
      scalingMetric,
    },
  };
}

// The autoscaler scales the ModelDeployment through its scale subresource, as Argo Rollouts does, so it keeps
// working across revisions; the controller spreads spec.replicas over them.
function scaleTarget(md: ModelDeployment) {
  return { apiVersion, kind, name: md.metadata.name };
}

/**
 * What KEDA's prometheus triggers query, from metrics the pods really export: the model server's, or for
 * a custom container the logger sidecar's (the only modelship process there; the API requires it on).
 * Series are selected by the labels the scrape copies from the pod, as the dashboard's are, so two
 * ModelDeployments serving the same model name stay apart.
 *
 *   built-in server:  sum(modelship_inference_in_flight{namespace="ns",modelship_io_deployment="md"})
 *   custom container: sum(modelship_logger_requests_in_flight{namespace="ns",modelship_io_deployment="md",kind="infer"})
 */
export function trafficQueries(md: ModelDeployment): { inFlight: string; requestRate: string } {
  const sel = `${scrapeLabels.namespace}="${md.metadata.namespace ?? "default"}",${scrapeLabels.deployment}="${md.metadata.name}"`;
  const c = md.spec.runtime.container;
  if (!c)
    return {
      inFlight: `sum(modelship_inference_in_flight{${sel}})`,
      requestRate: `sum(rate(modelship_inference_requests_total{${sel}}[1m]))`,
    };
  // The logger knows OIP v2 / KServe v1 inference routes; a plain HTTP server's requests are all "other".
  const kinds = c.protocol === "http" ? `kind=~"infer|other"` : `kind="infer"`;
  return {
    inFlight: `sum(modelship_logger_requests_in_flight{${sel},${kinds}})`,
    requestRate: `sum(rate(modelship_logger_requests_total{${sel},${kinds}}[1m]))`,
  };
}

export function autoscaler(md: ModelDeployment): K8sObject | undefined {
  const a = md.spec.autoscaling;
  if (!a) return undefined;
  const meta = {
    name: md.metadata.name,
    namespace: md.metadata.namespace,
    labels: commonLabels(md.metadata.name, "autoscaling"),
  };
  if (usesHttpAddOn(md)) return httpScaledObject(md, meta);
  if (usesKeda(md)) {
    const queries = trafficQueries(md);
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
    if (a.concurrency)
      triggers.push({
        type: "prometheus",
        metadata: {
          serverAddress: a.prometheusAddress,
          query: queries.inFlight,
          threshold: String(a.concurrency),
          activationThreshold: "0",
        },
      });
    if (a.requestsPerSecond)
      triggers.push({
        type: "prometheus",
        metadata: {
          serverAddress: a.prometheusAddress,
          query: queries.requestRate,
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

import { z } from "zod";
import { withRules } from "./rules.js";

/** Scale to zero woken by KEDA's HTTP add-on: minReplicas 0, unless activation says metrics. */
export function usesInterceptor(a: { minReplicas: number; activation?: string }): boolean {
  return a.minReplicas === 0 && (a.activation ?? "interceptor") === "interceptor";
}
/** The same test in CEL, over `self` at the autoscaling level. */
export const interceptorCel =
  "(self.minReplicas == 0 && (!has(self.activation) || self.activation == 'interceptor'))";

export const Autoscaling = withRules(
  z.object({
    minReplicas: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe(
        "0 enables scale to zero (needs KEDA, and its HTTP add-on for activation: interceptor); otherwise a HorizontalPodAutoscaler is created.",
      ),
    maxReplicas: z.number().int().min(1).max(1000).describe("Upper bound on replicas."),
    cpuUtilization: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Target average CPU utilisation (%)."),
    memoryUtilization: z
      .number()
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Target average memory utilisation (%)."),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .optional()
      .describe("Target in-flight requests per replica."),
    requestsPerSecond: z
      .number()
      .min(0.01)
      .max(1000000)
      .optional()
      .describe("Target requests/s per replica."),
    prometheusAddress: z
      .string()
      .max(512)
      .optional()
      .describe("Prometheus URL for concurrency/requestsPerSecond targets (KEDA prometheus trigger)."),
    cooldownSeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(300)
      .describe("Idle time before scaling to zero."),
    activation: z
      .enum(["interceptor", "metrics"])
      .optional()
      .describe(
        "How a model scaled to zero (minReplicas 0) wakes up. interceptor (the default): an HTTPScaledObject; KEDA's HTTP add-on interceptor holds each request until a pod is ready, and scales on its own count of in-flight requests (concurrency) or request rate (requestsPerSecond). metrics: a ScaledObject on the pods' Prometheus metrics; no request is held, so the first requests after idle fail until a pod is ready.",
      ),
    hosts: z
      .array(z.string().min(1).max(253))
      .max(8)
      .optional()
      .describe(
        "activation interceptor: more Host names the interceptor routes to this model (an Ingress's hostname), besides the model Service's cluster names. modelship's own Gateway route rewrites the Host and needs none.",
      ),
  }),
  [
    {
      cel: "self.minReplicas <= self.maxReplicas",
      check: (a) => a.minReplicas <= a.maxReplicas,
      message: "spec.autoscaling.minReplicas must be <= maxReplicas",
      field: ["minReplicas"],
    },
    {
      cel: "has(self.cpuUtilization) || has(self.memoryUtilization) || has(self.concurrency) || has(self.requestsPerSecond)",
      check: (a) =>
        a.cpuUtilization !== undefined ||
        a.memoryUtilization !== undefined ||
        a.concurrency !== undefined ||
        a.requestsPerSecond !== undefined,
      message:
        "spec.autoscaling needs a target: set cpuUtilization, memoryUtilization, concurrency or requestsPerSecond",
    },
    {
      cel: `${interceptorCel} || (!has(self.concurrency) && !has(self.requestsPerSecond)) || has(self.prometheusAddress)`,
      check: (a) =>
        usesInterceptor(a) ||
        (a.concurrency === undefined && a.requestsPerSecond === undefined) ||
        a.prometheusAddress !== undefined,
      message:
        "spec.autoscaling.prometheusAddress is required for concurrency or requestsPerSecond targets (except with minReplicas 0 and activation interceptor, which count requests themselves)",
      field: ["prometheusAddress"],
    },
    {
      cel: `!(${interceptorCel}) || !(has(self.concurrency) && has(self.requestsPerSecond))`,
      check: (a) =>
        !usesInterceptor(a) || !(a.concurrency !== undefined && a.requestsPerSecond !== undefined),
      message:
        "spec.autoscaling: with minReplicas 0 the KEDA HTTP add-on scales on one figure: set concurrency or requestsPerSecond, not both (or activation: metrics)",
      field: ["requestsPerSecond"],
    },
    {
      cel: `!(${interceptorCel}) || (!has(self.cpuUtilization) && !has(self.memoryUtilization))`,
      check: (a) =>
        !usesInterceptor(a) || (a.cpuUtilization === undefined && a.memoryUtilization === undefined),
      message:
        "spec.autoscaling: with minReplicas 0 the KEDA HTTP add-on scales on requests only: remove cpuUtilization and memoryUtilization, or set minReplicas >= 1",
      field: ["cpuUtilization"],
    },
    {
      cel: "!has(self.hosts) || " + interceptorCel,
      check: (a) => a.hosts === undefined || usesInterceptor(a),
      message: "spec.autoscaling.hosts is only used with minReplicas 0 and activation interceptor: remove it",
      field: ["hosts"],
    },
    {
      cel: "self.minReplicas > 0 || has(self.concurrency) || has(self.requestsPerSecond)",
      check: (a) => a.minReplicas > 0 || a.concurrency !== undefined || a.requestsPerSecond !== undefined,
      message:
        "spec.autoscaling.minReplicas 0 (scale to zero) needs a traffic target to wake up on: set concurrency or requestsPerSecond",
      field: ["minReplicas"],
    },
  ],
).describe(
  "Scale replicas with load. The autoscaler drives the ModelDeployment's scale subresource (spec.replicas).",
);

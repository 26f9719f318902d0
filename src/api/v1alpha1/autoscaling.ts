import { z } from "zod";
import { withRules } from "./rules.js";

export const Autoscaling = withRules(
  z.object({
    minReplicas: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe("0 enables scale to zero (needs KEDA); otherwise a HorizontalPodAutoscaler is created."),
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
      cel: "(!has(self.concurrency) && !has(self.requestsPerSecond)) || has(self.prometheusAddress)",
      check: (a) =>
        (a.concurrency === undefined && a.requestsPerSecond === undefined) ||
        a.prometheusAddress !== undefined,
      message: "spec.autoscaling.prometheusAddress is required for concurrency or requestsPerSecond targets",
      field: ["prometheusAddress"],
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

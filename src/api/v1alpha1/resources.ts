import { z } from "zod";
import { quantity, toleration } from "./common.js";
import { withRules } from "./rules.js";

export const Gpu = withRules(
  z.object({
    count: z.number().int().min(0).max(16).default(1).describe("GPUs (or MIG slices) per pod."),
    product: z
      .string()
      .max(128)
      .optional()
      .describe("GPU product, e.g. NVIDIA-H100-80GB-HBM3; becomes a nodeSelector on nvidia.com/gpu.product."),
    migProfile: z
      .string()
      .regex(/^[0-9]+g\.[0-9]+gb$/, "spec.resources.gpu.migProfile must look like 1g.10gb")
      .optional()
      .describe("MIG profile such as 1g.10gb; requests nvidia.com/mig-<profile> instead of whole GPUs."),
    tolerateTaint: z
      .boolean()
      .default(true)
      .describe("Tolerate the nvidia.com/gpu NoSchedule taint that GPU node pools usually carry."),
  }),
  [
    {
      cel: "self.count > 0 || (!has(self.product) && !has(self.migProfile))",
      check: (g) => g.count > 0 || (g.product === undefined && g.migProfile === undefined),
      message:
        "spec.resources.gpu.count is 0 but a product or migProfile is set: set count >= 1 or remove them",
      field: ["count"],
    },
  ],
).describe("GPUs for each inference pod.");

export const Resources = z
  .object({
    cpu: quantity.default("1").describe("CPU request of the model server container."),
    memory: quantity.default("2Gi").describe("Memory request and limit of the model server container."),
    gpu: Gpu.optional(),
  })
  .describe("Compute for each inference pod.");

export const Scheduling = z
  .object({
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(toleration).max(32).optional(),
    affinity: z
      .object({})
      .passthrough()
      .optional()
      .meta({ "x-kubernetes-preserve-unknown-fields": true })
      .describe("A core/v1 Affinity, copied to the pod as is."),
    priorityClassName: z.string().max(253).optional(),
  })
  .describe("Where inference pods may run.");

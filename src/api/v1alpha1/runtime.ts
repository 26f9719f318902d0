import { z } from "zod";
import { envVar } from "./common.js";
import { withRules } from "./rules.js";

/** Set in a custom container by modelship from spec.model (src/render/pod.ts). */
export const injectedEnv = ["MODEL_NAME", "MODEL_VERSION", "MODEL_PATH"] as const;

export const CustomContainer = withRules(
  z.object({
    image: z.string().min(1).max(512).describe("Container image of your own model server."),
    command: z.array(z.string().max(1024)).max(32).optional().describe("Entrypoint override."),
    args: z
      .array(z.string().max(1024))
      .max(64)
      .optional()
      .describe("Arguments; the model file is at /models/model."),
    port: z.number().int().min(1).max(65535).default(8080).describe("Port the server listens on."),
    protocol: z
      .enum(["v2", "v1", "http"])
      .default("v2")
      .describe(
        "v2: Open Inference Protocol; v1: KServe v1 (:predict); http: anything, probed at readinessPath (without one, by a TCP connect).",
      ),
    readinessPath: z
      .string()
      .max(256)
      .regex(/^\/\S*$/, "spec.runtime.container.readinessPath must be a path starting with /, e.g. /healthz")
      .optional()
      .describe(
        "HTTP path answering 2xx/3xx when ready, for protocol http; without it readiness is a TCP connect.",
      ),
    env: z
      .array(envVar)
      .max(64)
      .optional()
      .describe(
        "Environment of the container, beside MODEL_NAME, MODEL_VERSION and MODEL_PATH that modelship sets.",
      ),
  }),
  [
    {
      cel: "!has(self.env) || self.env.all(e, !(e.name in ['MODEL_NAME', 'MODEL_VERSION', 'MODEL_PATH']))",
      check: (c) => (c.env ?? []).every((e) => !(injectedEnv as readonly string[]).includes(e.name)),
      message:
        "spec.runtime.container.env: MODEL_NAME, MODEL_VERSION and MODEL_PATH are set by modelship from spec.model; remove them from env",
      field: ["env"],
    },
    {
      cel: "!has(self.env) || self.env.all(e, self.env.exists_one(f, f.name == e.name))",
      check: (c) => new Set((c.env ?? []).map((e) => e.name)).size === (c.env ?? []).length,
      message: "spec.runtime.container.env: a name appears twice; keep one entry per name",
      field: ["env"],
    },
  ],
).describe("Run your own container instead of the built-in ONNX server (other frameworks).");

export const Runtime = z
  .object({
    image: z
      .string()
      .max(512)
      .optional()
      .describe("modelship image for the built-in server; defaults to the controller's --image."),
    executionProvider: z
      .enum(["cpu", "cuda"])
      .default("cpu")
      .describe("onnxruntime execution provider; cuda needs spec.resources.gpu."),
    allowCpuFallback: z
      .boolean()
      .default(false)
      .describe("With cuda: become ready on CPU if CUDA is unavailable instead of refusing."),
    batching: z
      .object({
        maxBatchSize: z.number().int().min(1).max(4096).default(32).describe("Largest dynamic batch."),
        maxQueueDelayMs: z
          .number()
          .int()
          .min(0)
          .max(10000)
          .default(2)
          .describe("How long a request may wait for batch-mates."),
      })
      .optional()
      .describe("Dynamic batching along the first (batch) dimension; off when absent."),
    workers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe("onnxruntime worker threads (sessions) per pod."),
    intraOpThreads: z.number().int().min(1).max(256).optional().describe("Threads inside one session.run."),
    requestTimeoutMs: z
      .number()
      .int()
      .min(1)
      .max(600000)
      .default(30000)
      .describe("Per-request deadline (504 after)."),
    container: CustomContainer.optional(),
  })
  .describe("How the model is served.");

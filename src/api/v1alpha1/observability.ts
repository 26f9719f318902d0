import { z } from "zod";
import { cronSchedule, duration, uri, uriRule } from "./common.js";
import { withRules } from "./rules.js";

export const Logging = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe("Run the inference logger sidecar that records every request."),
    sampleRate: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe("Fraction of successful requests logged; errors always are."),
    redact: z
      .array(z.string().max(256))
      .max(64)
      .optional()
      .describe("Field paths replaced by a redaction marker, e.g. features.ssn or request.inputs.email."),
    headers: z.array(z.string().max(256)).max(32).optional().describe("Request headers copied into events."),
    maxPayloadBytes: z
      .number()
      .int()
      .min(1024)
      .max(16777216)
      .default(65536)
      .describe("Larger inputs/outputs are truncated in the event, with a marker."),
    sink: z
      .string()
      .max(1024)
      .optional()
      .describe(
        "Where events go: http://collector:9090, file:///dir or stdout:. Defaults to the controller's.",
      ),
  })
  .describe("Inference event logging.");

export const Drift = withRules(
  z.object({
    schedule: cronSchedule,
    baselineUri: uri.describe("Training-data profile written by `modelship baseline`."),
    window: duration.default("1h").describe("How much recent traffic each run evaluates."),
    psiThreshold: z.number().min(0).max(10).default(0.2).describe("PSI above this flags a feature."),
    pValue: z
      .number()
      .min(0)
      .max(1)
      .default(0.05)
      .describe("Significance level after multiple-testing correction."),
    action: z
      .enum(["alert", "rollback"])
      .default("alert")
      .describe("alert: condition, event, metric; rollback: also roll back to the previous revision."),
    timeZone: z.string().max(64).optional(),
  }),
  [
    uriRule("baselineUri", "spec.monitoring.drift.baselineUri", (d) => d.baselineUri),
    {
      cel: "self.pValue > 0.0",
      check: (d) => d.pValue > 0,
      message: "spec.monitoring.drift.pValue must be > 0 (e.g. 0.05)",
      field: ["pValue"],
    },
  ],
).describe("Scheduled drift evaluation against a training baseline.");

export const Monitoring = z
  .object({
    drift: Drift.optional(),
    feedback: z
      .object({ enabled: z.boolean().default(false).describe("Accept ground truth at POST /v2/feedback.") })
      .optional(),
  })
  .describe("Model health monitoring.");

export const Batch = withRules(
  z.object({
    schedule: cronSchedule,
    inputUri: uri.describe("JSONL or CSV rows to score."),
    outputUri: uri.describe("Where predictions go: pvc://CLAIM/path or file:// (tests)."),
    timeZone: z.string().max(64).optional(),
    batchSize: z.number().int().min(1).max(65536).default(256),
  }),
  [
    uriRule("inputUri", "spec.batch.inputUri", (b) => b.inputUri),
    {
      cel: "self.outputUri.startsWith('pvc://') || self.outputUri.startsWith('file://')",
      check: (b) => b.outputUri.startsWith("pvc://") || b.outputUri.startsWith("file://"),
      message: "spec.batch.outputUri must be pvc://CLAIM/path (or file:// in tests)",
      field: ["outputUri"],
    },
  ],
).describe("Scheduled batch prediction.");

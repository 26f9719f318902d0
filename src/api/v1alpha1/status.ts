import { z } from "zod";

export const conditionTypes = [
  "Ready",
  "Progressing",
  "Degraded",
  "Paused",
  "RolledBack",
  "WaitingForCapacity",
  "DriftDetected",
] as const;

export const Condition = z.object({
  type: z.string().max(64),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().max(128),
  message: z.string().max(4096),
  lastTransitionTime: z.string().max(64),
  observedGeneration: z.number().int().optional(),
});

export const RevisionStatus = z.object({
  name: z.string().max(128).describe("Revision id: a hash of the pod template."),
  role: z.enum(["stable", "canary", "preview", "old"]),
  modelVersion: z.string().max(63),
  replicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  weight: z.number().int().optional(),
});

export const HistoryEntry = z.object({
  revision: z.string().max(128),
  modelVersion: z.string().max(63),
  outcome: z.enum(["Promoted", "RolledBack", "Aborted", "Superseded"]),
  reason: z.string().max(256).optional(),
  time: z.string().max(64),
});

export const DriftStatus = z.object({
  lastRun: z.string().max(64).optional(),
  verdict: z.enum(["ok", "drift", "error"]).optional(),
  score: z.number().optional(),
  features: z
    .array(
      z.object({
        name: z.string().max(128),
        statistic: z.string().max(32),
        value: z.number(),
        drifted: z.boolean(),
      }),
    )
    .max(16)
    .optional(),
  message: z.string().max(1024).optional(),
  reportRef: z
    .string()
    .max(2048)
    .optional()
    .describe("Where the full report of the last run is, e.g. the collector's /v1/reports/{model}/{id}."),
});

export const BatchRunStatus = z.object({
  runId: z.string().max(253).describe("The run: the Job's name for a scheduled run."),
  outcome: z.enum(["Running", "Succeeded", "Failed"]),
  shards: z.number().int().optional(),
  rows: z.number().int().optional().describe("Input rows read."),
  predicted: z.number().int().optional(),
  rejected: z.number().int().optional().describe("Rows that could not be predicted; see rejects."),
  startedAt: z.string().max(64).optional(),
  finishedAt: z.string().max(64).optional(),
  output: z.string().max(2048).optional().describe("Where the predictions are: a pvc:// file or a table."),
  rejects: z.string().max(2048).optional().describe("Where the rejected rows are, with the reason for each."),
  message: z.string().max(1024).optional(),
});

export const BatchStatus = z.object({
  lastRun: BatchRunStatus.optional(),
});

/** What a load test measured on one side (candidate or stable). */
export const LoadTestFigures = z.object({
  requests: z.number().int().describe("Requests sent."),
  errors: z.number().int().describe("Non-2xx answers, timeouts and refused connections."),
  errorRate: z.number(),
  p50Ms: z
    .number()
    .optional()
    .describe("Median latency of the answered requests, from their scheduled send time."),
  p99Ms: z.number().optional(),
  memoryMiB: z
    .number()
    .optional()
    .describe(
      "Peak resident memory of the side's busiest pod during the test (the model server's process metric).",
    ),
  pods: z.number().int().optional().describe("Pods whose memory was read."),
});

export const LoadTestStatus = z.object({
  runId: z
    .string()
    .max(253)
    .describe("The run: revision, step and when the step began; the rollout waits for its own."),
  revision: z.string().max(128),
  step: z.number().int().describe("The canary step index, or -1 for blue-green's pre-promotion test."),
  phase: z.enum(["Running", "Completed", "Error"]),
  startedAt: z.string().max(64).optional(),
  finishedAt: z.string().max(64).optional(),
  candidate: LoadTestFigures.optional(),
  stable: LoadTestFigures.optional(),
  verdict: z.enum(["Passed", "Failed"]).optional(),
  message: z.string().max(1024).optional(),
});

export const ModelDeploymentStatus = z
  .object({
    observedGeneration: z.number().int().optional(),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] }),
    replicas: z.number().int().optional(),
    readyReplicas: z.number().int().optional(),
    selector: z
      .string()
      .max(1024)
      .optional()
      .describe("Label selector of all pods, for the scale subresource."),
    modelVersion: z.string().max(63).optional().describe("Model version serving stable traffic."),
    stableRevision: z.string().max(128).optional(),
    canaryRevision: z.string().max(128).optional(),
    currentStepIndex: z.number().int().optional(),
    phase: z.string().max(32).optional().describe("Healthy, Progressing, Paused, Degraded or RolledBack."),
    traffic: z.string().max(128).optional().describe("Weights at a glance, e.g. stable 80 / canary 20."),
    endpoint: z
      .string()
      .max(512)
      .optional()
      .describe(
        "Where callers reach the model with the traffic split honoured: the Service (service, istio, a GAMMA Service parent) or the Gateway (by hostname, or its address). Unset while the Gateway has no address.",
      ),
    serviceEndpoint: z
      .string()
      .max(512)
      .optional()
      .describe(
        "The ModelDeployment's Service; with a Gateway it selects the stable revision only (no split).",
      ),
    revisions: z.array(RevisionStatus).max(8).optional(),
    history: z.array(HistoryEntry).max(20).optional(),
    drift: DriftStatus.optional(),
    batch: BatchStatus.optional().describe("Written by the batch job under its own field manager."),
    loadTest: LoadTestStatus.optional().describe(
      "The last rollout load test, written by its Job under its own field manager.",
    ),
    rollout: z
      .record(z.string(), z.unknown())
      .optional()
      .meta({ "x-kubernetes-preserve-unknown-fields": true })
      .describe(
        "Bookkeeping of the rollout state machine (step start times, analysis counts, handled requests).",
      ),
    message: z.string().max(4096).optional(),
  })
  .describe(
    "Observed state, written by the controller (and the drift, batch and load-test jobs) through /status.",
  );
export type ModelDeploymentStatus = z.output<typeof ModelDeploymentStatus>;
export type Condition = z.output<typeof Condition>;
export type RevisionStatus = z.output<typeof RevisionStatus>;
export type HistoryEntry = z.output<typeof HistoryEntry>;
export type BatchRunStatus = z.output<typeof BatchRunStatus>;
export type LoadTestFigures = z.output<typeof LoadTestFigures>;
export type LoadTestStatus = z.output<typeof LoadTestStatus>;

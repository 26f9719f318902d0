import { z } from "zod";
import { duration, uri, uriRule } from "./common.js";
import { withRules } from "./rules.js";

export const analysisMetrics = [
  "errorRate",
  "latencyP50",
  "latencyP95",
  "latencyP99",
  "fallbackRate",
  "driftScore",
  "custom",
] as const;

export const AnalysisTemplate = withRules(
  z.object({
    name: z.string().min(1).max(63).describe("Name referenced by canary analysis steps."),
    metric: z
      .enum(analysisMetrics)
      .describe("Built-in canary-vs-stable metric, or custom with a PromQL query."),
    query: z.string().max(4096).optional().describe("PromQL for metric custom; {{revision}} is substituted."),
    max: z.number().optional().describe("The candidate fails when the value is above this."),
    maxRelativeToStable: z
      .number()
      .min(1)
      .optional()
      .describe("The candidate fails when its value is above this multiple of stable's (e.g. 1.2)."),
    interval: duration.default("1m").describe("Time between measurements."),
    count: z.number().int().min(1).max(1000).default(3).describe("Measurements taken by an analysis step."),
    failureLimit: z.number().int().min(0).max(1000).default(1).describe("Failed measurements tolerated."),
    inconclusiveLimit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(2)
      .describe("Measurements without data tolerated before the rollout pauses for a human."),
  }),
  [
    {
      cel: "self.metric != 'custom' || has(self.query)",
      check: (t) => t.metric !== "custom" || t.query !== undefined,
      message: "spec.rollout.analysis[].query is required when metric is custom",
      field: ["query"],
    },
    {
      cel: "has(self.max) || has(self.maxRelativeToStable)",
      check: (t) => t.max !== undefined || t.maxRelativeToStable !== undefined,
      message: "spec.rollout.analysis[] needs a threshold: set max or maxRelativeToStable",
    },
  ],
);

export const HeaderMatch = z.object({
  name: z.string().min(1).max(256).describe("Header name; use cookie to match a cookie value."),
  value: z.string().min(1).max(1024),
  type: z.enum(["Exact", "RegularExpression"]).default("Exact"),
});

/** What a load test sends: requests made up from the model's input signature, or recorded ones. */
export const LoadTestPayload = withRules(
  z.object({
    synthetic: z
      .object({
        batchSize: z
          .number()
          .int()
          .min(1)
          .max(1024)
          .default(1)
          .describe("Rows per request, for the inputs' dynamic (-1) batch dimension."),
      })
      .optional()
      .describe(
        "Requests made up from the model's input signature (GET /v2/models/NAME): random values of each input's datatype and shape.",
      ),
    uri: uri
      .optional()
      .describe(
        "A file of recorded requests, one JSON object a line: an Open Inference Protocol v2 request body, or an InferenceEvent (its request is replayed). pvc://, https://, s3:// or gs://; sent in turn, round and round.",
      ),
    credentialsSecret: z
      .string()
      .max(253)
      .optional()
      .describe("Secret with the credentials for uri (the same keys as spec.model.credentialsSecret)."),
  }),
  [
    {
      cel: "has(self.synthetic) != has(self.uri)",
      check: (p) => (p.synthetic !== undefined) !== (p.uri !== undefined),
      message: "loadTest.payload: set exactly one of synthetic and uri",
    },
    uriRule<{ uri?: string | undefined }>("uri", "loadTest.payload.uri", (p) => p.uri),
  ],
);

/**
 * A pre-promotion load test: a Job sends `rate` requests a second for `duration` to the candidate's Service,
 * then (when a threshold compares with it) to stable's the same way, and judges latency, errors and memory.
 */
export const LoadTest = withRules(
  z.object({
    rate: z
      .number()
      .min(0.1)
      .max(5000)
      .describe("Requests a second, sent on schedule whatever the answers take (an open loop)."),
    duration: duration.describe("How long each side is loaded, e.g. 30s or 2m."),
    payload: LoadTestPayload.optional().describe("What to send; absent = synthetic, one row a request."),
    requestTimeoutMs: z
      .number()
      .int()
      .min(10)
      .max(60000)
      .default(5000)
      .describe("A request not answered within this counts as an error."),
    maxP50Ms: z
      .number()
      .min(0)
      .optional()
      .describe("Fails when the candidate's median latency is above this."),
    maxP99Ms: z
      .number()
      .min(0)
      .optional()
      .describe("Fails when the candidate's 99th percentile is above this."),
    maxErrorRate: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Fails when the candidate's share of failed requests (non-2xx, timeouts) is above this."),
    maxMemoryMiB: z
      .number()
      .min(0)
      .optional()
      .describe(
        "Fails when a candidate pod's peak resident memory (the model server's process metric) is above this.",
      ),
    maxP99RatioToStable: z
      .number()
      .min(1)
      .optional()
      .describe("Fails when the candidate's p99 is above this multiple of stable's, measured the same way."),
    maxMemoryRatioToStable: z
      .number()
      .min(1)
      .optional()
      .describe("Fails when the candidate's peak memory is above this multiple of stable's."),
  }),
  [
    {
      cel: "has(self.maxP50Ms) || has(self.maxP99Ms) || has(self.maxErrorRate) || has(self.maxMemoryMiB) || has(self.maxP99RatioToStable) || has(self.maxMemoryRatioToStable)",
      check: (t) =>
        [
          t.maxP50Ms,
          t.maxP99Ms,
          t.maxErrorRate,
          t.maxMemoryMiB,
          t.maxP99RatioToStable,
          t.maxMemoryRatioToStable,
        ].some((x) => x !== undefined),
      message:
        "loadTest needs a threshold: set maxP50Ms, maxP99Ms, maxErrorRate, maxMemoryMiB, maxP99RatioToStable or maxMemoryRatioToStable",
    },
  ],
);

export const CanaryStep = withRules(
  z.object({
    setWeight: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .describe("Percent of traffic sent to the candidate."),
    pause: z
      .object({ duration: duration.optional().describe("Resume after this long; absent = until promoted.") })
      .optional(),
    analysis: z
      .object({
        templates: z.array(z.string().max(63)).min(1).max(8).describe("Names from spec.rollout.analysis."),
      })
      .optional(),
    setHeaderRoute: z
      .object({ match: z.array(HeaderMatch).min(1).max(8) })
      .optional()
      .describe("A/B: requests matching every header go to the candidate."),
    setMirror: z
      .object({ percent: z.number().int().min(1).max(100) })
      .optional()
      .describe(
        "Shadow: copy this percent of traffic to the candidate; its responses are discarded but logged.",
      ),
    loadTest: LoadTest.optional().describe(
      "Load the canary's own Service (no user traffic) with a Job and judge latency, errors and memory; fails -> rollback.",
    ),
  }),
  [
    {
      cel: "[has(self.setWeight), has(self.pause), has(self.analysis), has(self.setHeaderRoute), has(self.setMirror), has(self.loadTest)].filter(x, x).size() == 1",
      check: (s) =>
        [s.setWeight, s.pause, s.analysis, s.setHeaderRoute, s.setMirror, s.loadTest].filter(
          (x) => x !== undefined,
        ).length === 1,
      message:
        "spec.rollout.canary.steps[]: each step must set exactly one of setWeight, pause, analysis, setHeaderRoute, setMirror, loadTest",
    },
  ],
);

export const Canary = z
  .object({
    steps: z
      .array(CanaryStep)
      .min(1)
      .max(32)
      .describe("Steps walked in order; after the last, the candidate is promoted."),
  })
  .describe("Shift traffic to the new revision step by step.");

export const BlueGreen = withRules(
  z.object({
    autoPromote: z
      .boolean()
      .default(false)
      .describe("Promote once the preview revision is Ready (and analysis passes)."),
    autoPromoteAfterSeconds: z.number().int().min(0).max(86400).optional(),
    previewService: z.boolean().default(true).describe("Create <name>-preview pointing at the new revision."),
    scaleDownDelaySeconds: z
      .number()
      .int()
      .min(0)
      .max(86400)
      .default(30)
      .describe("Keep the old revision this long after promotion."),
    analysis: z.object({ templates: z.array(z.string().max(63)).min(1).max(8) }).optional(),
    loadTest: LoadTest.optional().describe(
      "Pre-promotion load test of the preview Service, once every preview pod is available and before the analysis and the switch; fails -> rollback.",
    ),
  }),
  [
    {
      cel: "!has(self.loadTest) || self.previewService",
      check: (b) => b.loadTest === undefined || b.previewService,
      message:
        "spec.rollout.blueGreen.loadTest loads the preview Service: set previewService true (the default) or drop loadTest",
      field: ["loadTest"],
    },
  ],
).describe("Run the new revision beside the old one and switch all traffic at once.");

export const Rollout = withRules(
  z.object({
    strategy: z
      .enum(["rolling", "canary", "blueGreen"])
      .default("rolling")
      .describe("rolling replaces pods; canary walks spec.rollout.canary.steps; blueGreen switches at once."),
    canary: Canary.optional(),
    blueGreen: BlueGreen.optional(),
    analysis: z.array(AnalysisTemplate).max(16).optional().describe("Analysis templates used by steps."),
    maxSurgeGPUs: z
      .number()
      .int()
      .min(0)
      .max(1024)
      .optional()
      .describe(
        "Extra GPUs a rollout may use above the stable revision's; the candidate waits for capacity.",
      ),
    progressDeadlineSeconds: z
      .number()
      .int()
      .min(30)
      .max(86400)
      .default(600)
      .describe("A candidate not Ready within this time is rolled back."),
    autoRollback: z.boolean().default(true).describe("Roll back automatically on failed analysis or pods."),
    revisionHistoryLimit: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(5)
      .describe(
        "Earlier promoted revisions kept (besides the stable one) in the <name>-revisions ConfigMap as targets of modelship rollback --to-revision.",
      ),
  }),
  [
    {
      cel: "!(has(self.canary) && has(self.blueGreen))",
      check: (r) => !(r.canary && r.blueGreen),
      message: "spec.rollout: set either canary or blueGreen, not both",
    },
    {
      cel: "self.strategy != 'canary' || has(self.canary)",
      check: (r) => r.strategy !== "canary" || r.canary !== undefined,
      message: "spec.rollout.canary.steps is required when strategy is canary",
      field: ["strategy"],
    },
    {
      cel: "self.strategy == 'canary' || !has(self.canary)",
      check: (r) => r.strategy === "canary" || r.canary === undefined,
      message: "spec.rollout.canary is set but strategy is not canary: set strategy: canary",
      field: ["strategy"],
    },
    {
      cel: "self.strategy == 'blueGreen' || !has(self.blueGreen)",
      check: (r) => r.strategy === "blueGreen" || r.blueGreen === undefined,
      message: "spec.rollout.blueGreen is set but strategy is not blueGreen: set strategy: blueGreen",
      field: ["strategy"],
    },
    {
      cel: "!has(self.canary) || self.canary.steps.all(s, !has(s.analysis) || s.analysis.templates.all(t, has(self.analysis) && self.analysis.exists(a, a.name == t)))",
      check: (r) =>
        (r.canary?.steps ?? []).every((s) =>
          (s.analysis?.templates ?? []).every((t) => (r.analysis ?? []).some((a) => a.name === t)),
        ),
      message:
        "spec.rollout.canary.steps[].analysis.templates names a template missing from spec.rollout.analysis",
    },
  ],
).describe("How a new revision replaces the serving one.");

export const Traffic = withRules(
  z.object({
    provider: z
      .enum(["service", "gatewayAPI", "istio"])
      .default("service")
      .describe(
        "service: plain Service, weights by replica ratio; gatewayAPI: HTTPRoute; istio: VirtualService.",
      ),
    parentRefs: z
      .array(
        z.object({
          group: z
            .string()
            .max(253)
            .optional()
            .describe(
              'gateway.networking.k8s.io (the default) for a Gateway; "" (the core group) with kind Service for a mesh (GAMMA).',
            ),
          kind: z
            .enum(["Gateway", "Service"])
            .optional()
            .describe(
              "Gateway (the default): north-south through a Gateway. Service: east-west, the route attaches to a Service and a GAMMA mesh applies it to in-cluster callers of that Service.",
            ),
          name: z.string().min(1).max(253),
          namespace: z.string().max(63).optional(),
          sectionName: z.string().max(253).optional(),
          port: z.number().int().min(1).max(65535).optional(),
        }),
      )
      .max(8)
      .optional()
      .describe(
        "What the HTTPRoute attaches to (gatewayAPI): Gateways, or Services for a GAMMA mesh. The first one names status.endpoint.",
      ),
    gateways: z
      .array(z.string().max(253))
      .max(8)
      .optional()
      .describe("Istio gateways of the VirtualService."),
    hostnames: z.array(z.string().max(253)).max(16).optional().describe("Host names the route answers for."),
    mirror: z
      .enum(["dataPlane", "router"])
      .default("dataPlane")
      .describe(
        "Who copies setMirror's shadow traffic. dataPlane: the stable pods' own front (serve, or the logger before a custom container) copies after each answer, with every provider; needs spec.logging.enabled. router: the HTTPRoute RequestMirror filter or Istio's mirror, where the implementation supports it.",
      ),
  }),
  [
    {
      cel: "self.provider != 'gatewayAPI' || (has(self.parentRefs) && size(self.parentRefs) > 0)",
      check: (t) => t.provider !== "gatewayAPI" || (t.parentRefs?.length ?? 0) > 0,
      message: "spec.traffic.parentRefs is required for provider gatewayAPI: name the Gateway to attach to",
      field: ["parentRefs"],
    },
    {
      cel: "!has(self.parentRefs) || self.parentRefs.all(r, (has(r.kind) && r.kind == 'Service') == (has(r.group) && r.group == ''))",
      check: (t) => (t.parentRefs ?? []).every((r) => (r.kind === "Service") === (r.group === "")),
      message:
        'spec.traffic.parentRefs: a Service parent (GAMMA) needs kind: Service and group: "" together; a Gateway takes neither (or group gateway.networking.k8s.io)',
      field: ["parentRefs"],
    },
  ],
).describe("How traffic reaches the revisions and is split between them.");

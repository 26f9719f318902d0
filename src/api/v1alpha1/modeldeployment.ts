import { z } from "zod";
import { Autoscaling, interceptorCel, usesInterceptor } from "./autoscaling.js";
import { AdditionalModel, Model, maxAdditionalModels } from "./model.js";
import { Batch, Logging, Monitoring } from "./observability.js";
import { Resources, Scheduling } from "./resources.js";
import { Rollout, Traffic } from "./rollout.js";
import { withRules } from "./rules.js";

import { Runtime } from "./runtime.js";
import { ModelDeploymentStatus } from "./status.js";

/** The interceptor test (autoscaling.ts) over the autoscaling object at `path`. */
const interceptorAt = (path: string) => interceptorCel.replaceAll("self.", `${path}.`);

export const group = "modelship.io";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const kind = "ModelDeployment";
export const plural = "modeldeployments";
export const singular = "modeldeployment";
export const shortNames = ["md", "mdep"];
/** Child object names append up to 23 characters (e.g. "-0123456789-preview"), so keep the parent short. */
export const maxNameLength = 40;

export const ModelDeploymentSpec = withRules(
  z.object({
    model: Model,
    additionalModels: z
      .array(AdditionalModel)
      .max(maxAdditionalModels)
      .optional()
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .describe(
        "More ONNX models served by the same pods (multi-model endpoint), each at /v2/models/{name}. Changing any of them rolls out a new revision.",
      ),
    runtime: Runtime.default({
      executionProvider: "cpu",
      allowCpuFallback: false,
      workers: 1,
      requestTimeoutMs: 30000,
    }),
    resources: Resources.default({ cpu: "1", memory: "2Gi" }),
    scheduling: Scheduling.optional(),
    podMetadata: z
      .object({
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .optional()
      .describe(
        "Extra labels and annotations for inference pods (e.g. for a service mesh or cost allocation).",
      ),
    replicas: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .optional()
      .describe(
        "Pods of the serving revision when no autoscaler runs (default 1); the autoscaler writes it otherwise.",
      ),
    autoscaling: Autoscaling.optional(),
    rollout: Rollout.default({
      strategy: "rolling",
      progressDeadlineSeconds: 600,
      autoRollback: true,
      revisionHistoryLimit: 5,
    }),
    traffic: Traffic.default({ provider: "service", mirror: "dataPlane" }),
    logging: Logging.default({ enabled: true, sampleRate: 1, maxPayloadBytes: 65536 }),
    monitoring: Monitoring.optional(),
    batch: Batch.optional(),
  }),
  [
    {
      cel: "self.runtime.executionProvider != 'cuda' || (has(self.resources.gpu) && self.resources.gpu.count > 0)",
      check: (s) => s.runtime.executionProvider !== "cuda" || (s.resources.gpu?.count ?? 0) > 0,
      message: "spec.runtime.executionProvider cuda needs GPUs: set spec.resources.gpu.count >= 1",
      field: ["runtime", "executionProvider"],
    },
    {
      cel: "self.model.format != 'custom' || has(self.runtime.container)",
      check: (s) => s.model.format !== "custom" || s.runtime.container !== undefined,
      message: "spec.model.format custom needs spec.runtime.container (image, port, protocol)",
      field: ["runtime"],
    },
    {
      cel: "self.model.format != 'onnx' || !has(self.runtime.container)",
      check: (s) => s.model.format !== "onnx" || s.runtime.container === undefined,
      message:
        "spec.runtime.container runs your own server: set spec.model.format: custom (or remove the container)",
      field: ["model", "format"],
    },
    {
      cel: "self.traffic.provider != 'service' || self.rollout.strategy != 'canary' || self.rollout.canary.steps.all(s, !has(s.setHeaderRoute))",
      check: (s) =>
        s.traffic.provider !== "service" ||
        s.rollout.strategy !== "canary" ||
        (s.rollout.canary?.steps ?? []).every((st) => !st.setHeaderRoute),
      message:
        "spec.rollout.canary.steps: setHeaderRoute needs a router: set spec.traffic.provider to gatewayAPI or istio",
      field: ["traffic", "provider"],
    },
    {
      cel: "self.traffic.provider != 'service' || self.traffic.mirror != 'router'",
      check: (s) => s.traffic.provider !== "service" || s.traffic.mirror !== "router",
      message:
        "spec.traffic.mirror: router needs a router: set spec.traffic.provider to gatewayAPI or istio, or mirror: dataPlane",
      field: ["traffic", "mirror"],
    },
    {
      cel: "self.traffic.mirror != 'dataPlane' || self.logging.enabled || self.rollout.strategy != 'canary' || self.rollout.canary.steps.all(s, !has(s.setMirror))",
      check: (s) =>
        s.traffic.mirror !== "dataPlane" ||
        s.logging.enabled ||
        s.rollout.strategy !== "canary" ||
        (s.rollout.canary?.steps ?? []).every((st) => !st.setMirror),
      message:
        "spec.rollout.canary.steps[].setMirror copies in the data plane, whose front is the event logger: set spec.logging.enabled true, or spec.traffic.mirror: router",
      field: ["logging", "enabled"],
    },
    {
      // The interceptor forwards to the endpoint Service, which under a router selects stable only.
      cel: `self.traffic.provider == 'service' || self.rollout.strategy != 'canary' || !has(self.autoscaling) || !${interceptorAt("self.autoscaling")}`,
      check: (s) =>
        s.traffic.provider === "service" ||
        s.rollout.strategy !== "canary" ||
        s.autoscaling === undefined ||
        !usesInterceptor(s.autoscaling),
      message:
        "spec.autoscaling.minReplicas 0 routes requests through KEDA's interceptor, which cannot carry a router's canary weights: use spec.rollout.strategy rolling or blueGreen, spec.traffic.provider service, or minReplicas >= 1",
      field: ["autoscaling", "minReplicas"],
    },
    {
      // A custom container exports no modelship metrics: its pods' traffic is counted by the logger sidecar.
      // Through KEDA's interceptor the requests are counted there instead.
      cel: `!has(self.runtime.container) || self.logging.enabled || !has(self.autoscaling) || (!has(self.autoscaling.concurrency) && !has(self.autoscaling.requestsPerSecond)) || ${interceptorAt("self.autoscaling")}`,
      check: (s) =>
        s.runtime.container === undefined ||
        s.logging.enabled ||
        s.autoscaling === undefined ||
        (s.autoscaling.concurrency === undefined && s.autoscaling.requestsPerSecond === undefined) ||
        usesInterceptor(s.autoscaling),
      message:
        "spec.autoscaling.concurrency and requestsPerSecond read the logger's metrics for a custom container: set spec.logging.enabled true, or scale on cpuUtilization/memoryUtilization",
      field: ["logging", "enabled"],
    },
    {
      cel: "!has(self.additionalModels) || self.additionalModels.all(m, m.name != self.model.name)",
      check: (s) => (s.additionalModels ?? []).every((m) => m.name !== s.model.name),
      message:
        "spec.additionalModels[].name must differ from spec.model.name: each model is served at its own /v2/models/{name}",
      field: ["additionalModels"],
    },
    {
      cel: "!has(self.additionalModels) || self.additionalModels.all(m, self.additionalModels.filter(o, o.name == m.name).size() == 1)",
      check: (s) =>
        new Set((s.additionalModels ?? []).map((m) => m.name)).size === (s.additionalModels ?? []).length,
      message: "spec.additionalModels[].name must be unique: give each model its own name",
      field: ["additionalModels"],
    },
    {
      cel: "!has(self.additionalModels) || size(self.additionalModels) == 0 || (self.model.format == 'onnx' && !has(self.runtime.container))",
      check: (s) =>
        (s.additionalModels ?? []).length === 0 ||
        (s.model.format === "onnx" && s.runtime.container === undefined),
      message:
        "spec.additionalModels are served by the built-in ONNX server: remove spec.runtime.container (format: custom serves spec.model only)",
      field: ["additionalModels"],
    },
    {
      // Predictions are marked for review as their events are recorded: no events, no review queue.
      cel: "!has(self.monitoring) || !has(self.monitoring.review) || self.logging.enabled",
      check: (s) => s.monitoring?.review === undefined || s.logging.enabled,
      message:
        "spec.monitoring.review marks predictions in their inference events: set spec.logging.enabled true, or remove spec.monitoring.review",
      field: ["logging", "enabled"],
    },
  ],
).describe("Desired state of a served model.");

export const ObjectMeta = z
  .object({
    name: z
      .string()
      .min(1)
      .max(
        maxNameLength,
        `metadata.name must be at most ${maxNameLength} characters (children append suffixes)`,
      )
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "metadata.name must be a DNS label"),
    namespace: z.string().max(63).optional(),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

export const ModelDeployment = z.object({
  apiVersion: z.literal(apiVersion),
  kind: z.literal(kind),
  metadata: ObjectMeta,
  spec: ModelDeploymentSpec,
  status: ModelDeploymentStatus.optional(),
});

export type ModelDeployment = z.output<typeof ModelDeployment>;
export type ModelDeploymentInput = z.input<typeof ModelDeployment>;
export type ModelDeploymentSpec = z.output<typeof ModelDeploymentSpec>;

/** The root-level CEL rules of the CRD (they can see metadata). */
export const rootRules = [
  {
    rule: `size(self.metadata.name) <= ${maxNameLength}`,
    message: `metadata.name must be at most ${maxNameLength} characters (child objects append suffixes)`,
  },
];

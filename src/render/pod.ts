import type { ModelDeployment } from "../api/v1alpha1/index.js";
import { canonicalJSON } from "./canonical-json.js";
import {
  collectorTokenFile,
  collectorTokenMount,
  collectorTokenVolume,
  sendsCollectorToken,
} from "./collector-token.js";
import { paths, ports, type RenderConfig } from "./config.js";
import { commonLabels, labelKeys, labelValue } from "./labels.js";
import type { RevisionSpec } from "./plan.js";
import type { K8sObject } from "./object.js";
import { variantsConfigMapName } from "./variants.js";

type Container = Record<string, unknown>;

const restrictedContainer = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** The pvc claim a pvc://CLAIM/path uri reads, or undefined. */
export function pvcClaim(uri: string): string | undefined {
  const m = /^pvc:\/\/([^/]+)\//.exec(uri);
  return m?.[1];
}

/**
 * The logger's port: never the custom container's own, so the logger's upstream is never itself. The
 * Service targets the logger by port name, so which number it is matters to nobody else.
 */
export function loggerPort(spec: RevisionSpec): number {
  return spec.runtime.container?.port === ports.logger ? ports.loggerAlternate : ports.logger;
}

/**
 * How to tell the model server is ready, by its declared protocol (the built-in one speaks v2): the
 * protocol's readiness route for v2 and v1; for any other HTTP server its readinessPath, else only that it
 * accepts connections. The kubelet's probe and the logger's /readyz check the same thing.
 */
export function containerReadiness(spec: RevisionSpec): { path: string } | "tcp" {
  const c = spec.runtime.container;
  if (!c || c.protocol === "v2") return { path: "/v2/health/ready" };
  if (c.protocol === "v1") return { path: `/v1/models/${spec.model.name}` };
  return c.readinessPath !== undefined ? { path: c.readinessPath } : "tcp";
}

function gpuResourceName(spec: RevisionSpec): string | undefined {
  const gpu = spec.resources.gpu;
  if (!gpu || gpu.count === 0) return undefined;
  return gpu.migProfile ? `nvidia.com/mig-${gpu.migProfile}` : "nvidia.com/gpu";
}

export function fetchContainer(
  cfg: RenderConfig,
  uri: string,
  filename: string,
  sha256?: string,
  secret?: string,
  /** An additional model's init container: its own name and directory (additionalModelDir). */
  target: { container: string; dest: string } = { container: "fetch", dest: paths.models },
): Container {
  const claim = pvcClaim(uri);
  return {
    name: target.container,
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    args: [
      "fetch",
      "--uri",
      uri,
      "--dest",
      target.dest,
      "--filename",
      filename,
      ...(sha256 ? ["--sha256", sha256] : []),
      "--pvc-root",
      paths.pvcRoot,
    ],
    ...(secret ? { envFrom: [{ secretRef: { name: secret } }] } : {}),
    // A failed fetch's last log line ("sha256 mismatch ...: expected X, got Y") becomes the container's
    // termination message, which the controller copies into the ModelDeployment's Degraded condition.
    terminationMessagePolicy: "FallbackToLogsOnError",
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
    securityContext: restrictedContainer,
    volumeMounts: [
      { name: "models", mountPath: paths.models },
      { name: "tmp", mountPath: "/tmp" },
      ...(claim ? [{ name: `pvc-${claim}`, mountPath: `${paths.pvcRoot}/${claim}`, readOnly: true }] : []),
    ],
  };
}

type AdditionalModel = NonNullable<RevisionSpec["additionalModels"]>[number];

/**
 * Where an additional model's file goes: a directory of its own, so no model name can collide with
 * spec.model's file (model.onnx) or another's.
 */
export function additionalModelDir(name: string): string {
  return `${paths.models}/${name}`;
}

/** One init container per additional model: each has its own credentials, and its own termination message. */
function additionalFetchContainers(cfg: RenderConfig, spec: RevisionSpec): Container[] {
  return (spec.additionalModels ?? []).map((m, i) =>
    fetchContainer(cfg, m.uri, paths.modelFile, m.sha256, m.credentialsSecret, {
      // by position: "fetch-" + a 63-character model name would not be a valid container name
      container: `fetch-${i + 1}`,
      dest: additionalModelDir(m.name),
    }),
  );
}

/** serve's --model flags for the additional models, after spec.model's. */
function additionalModelArgs(models: readonly AdditionalModel[]): string[] {
  return models.flatMap((m) => [
    "--model",
    `${m.name}=${additionalModelDir(m.name)}/${paths.modelFile}@${m.version}`,
  ]);
}

/**
 * Feature schemas when the pod serves several models: one --model-features per model that declares
 * features, so no model's events are mapped with another's schema. (One model: --features, as before.)
 */
function modelFeatureArgs(spec: RevisionSpec): string[] {
  const models = [spec.model, ...(spec.additionalModels ?? [])];
  return models.flatMap((m) =>
    m.features ? ["--model-features", `${m.name}=${canonicalJSON(m.features)}`] : [],
  );
}

function serveContainer(
  md: ModelDeployment,
  cfg: RenderConfig,
  spec: RevisionSpec,
  exposed: boolean,
): Container {
  const rt = spec.runtime;
  const gpuName = gpuResourceName(spec);
  const limits: Record<string, string> = { memory: spec.resources.memory };
  if (gpuName) limits[gpuName] = String(spec.resources.gpu?.count);
  const resources = { requests: { cpu: spec.resources.cpu, memory: spec.resources.memory }, limits };
  const modelPath = `${paths.models}/${paths.modelFile}`;
  if (rt.container) {
    const c = rt.container;
    const ready = containerReadiness(spec);
    const handler =
      ready === "tcp" ? { tcpSocket: { port: c.port } } : { httpGet: { path: ready.path, port: c.port } };
    return {
      name: "model",
      image: c.image,
      ...(c.command ? { command: c.command } : {}),
      ...(c.args ? { args: c.args } : {}),
      env: [
        { name: "MODEL_NAME", value: spec.model.name },
        { name: "MODEL_VERSION", value: spec.model.version },
        { name: "MODEL_PATH", value: modelPath },
        ...(c.env ?? []),
      ],
      ports: [{ name: exposed ? "http" : "model", containerPort: c.port, protocol: "TCP" }],
      readinessProbe: { ...handler, periodSeconds: 5, failureThreshold: 3 },
      startupProbe: { ...handler, periodSeconds: 5, failureThreshold: 120 },
      resources,
      securityContext: restrictedContainer,
      volumeMounts: [
        { name: "models", mountPath: paths.models, readOnly: true },
        { name: "tmp", mountPath: "/tmp" },
      ],
    };
  }
  const args = [
    "serve",
    "--model",
    `${spec.model.name}=${modelPath}@${spec.model.version}`,
    ...additionalModelArgs(spec.additionalModels ?? []),
    "--host",
    "0.0.0.0",
    "--port",
    String(ports.serve),
    "--grpc-port",
    String(ports.grpc),
    "--workers",
    String(rt.workers),
    "--request-timeout-ms",
    String(rt.requestTimeoutMs),
    "--execution-provider",
    rt.executionProvider,
    ...(rt.intraOpThreads ? ["--intra-op-threads", String(rt.intraOpThreads)] : []),
    ...(rt.batching
      ? [
          "--max-batch-size",
          String(rt.batching.maxBatchSize),
          "--max-queue-delay-ms",
          String(rt.batching.maxQueueDelayMs),
        ]
      : // The API says batching is off when spec.runtime.batching is absent; the server batches by default.
        ["--max-batch-size", "1"]),
    ...(rt.allowCpuFallback ? ["--allow-cpu-fallback"] : []),
    // serve records its own events (no proxy hop, no second parse): the logger is for custom containers
    ...(spec.logging.enabled ? eventArgs(md, cfg, spec) : []),
  ];
  return {
    name: "serve",
    image: rt.image ?? cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    args,
    ...(spec.logging.enabled ? { env: eventEnv } : {}),
    // A model that cannot load says why in its last log line; status shows it beside the crash.
    terminationMessagePolicy: "FallbackToLogsOnError",
    ports: [
      { name: "http", containerPort: ports.serve, protocol: "TCP" },
      { name: "grpc", containerPort: ports.grpc, protocol: "TCP" },
    ],
    readinessProbe: {
      httpGet: { path: "/v2/health/ready", port: ports.serve },
      periodSeconds: 5,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: "/v2/health/live", port: ports.serve },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    startupProbe: {
      httpGet: { path: "/v2/health/live", port: ports.serve },
      periodSeconds: 5,
      failureThreshold: 120,
    },
    resources,
    securityContext: restrictedContainer,
    volumeMounts: [
      { name: "models", mountPath: paths.models, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
      ...(spec.logging.enabled ? eventMounts(cfg, spec) : []),
    ],
  };
}

/** Whether the revision's logger ships to the installation's collector, and so sends its token. */
export function loggerSendsToken(cfg: RenderConfig, spec: RevisionSpec): boolean {
  return spec.logging.enabled && sendsCollectorToken(cfg, spec.logging.sink ?? cfg.defaultSink);
}

/**
 * How a pod records its events, the same for serve (built-in pods record their own) and the logger
 * sidecar (custom containers): sink, spool, the model, the revision and its role, and the fallback.
 */
function eventArgs(
  md: ModelDeployment,
  cfg: RenderConfig,
  spec: RevisionSpec,
  /** The logger names its model here (serve already did); kept in place so sidecar pods hash as before. */
  modelArgs: string[] = [],
): string[] {
  const lg = spec.logging;
  const ns = md.metadata.namespace ?? "default";
  const stable = `http://${md.metadata.name}-stable.${ns}.svc.${cfg.clusterDomain}:${ports.service}`;
  return [
    "--sink",
    lg.sink ?? cfg.defaultSink,
    ...(loggerSendsToken(cfg, spec) ? ["--sink-token-file", collectorTokenFile] : []),
    "--spool-dir",
    paths.spool,
    ...modelArgs,
    "--revision",
    "$(MODELSHIP_REVISION)",
    // The revision's role changes without a restart (see variants.ts): the controller's ConfigMap says it.
    "--variant-file",
    `${paths.variants}/$(MODELSHIP_REVISION)`,
    // Shadow traffic in the data plane: while a setMirror step is on, the stable revisions' key says where
    // to copy requests (variants.ts); absent, nothing is copied.
    "--mirror-file",
    `${paths.variants}/$(MODELSHIP_REVISION).mirror`,
    "--sample-rate",
    String(lg.sampleRate),
    "--max-payload-bytes",
    String(lg.maxPayloadBytes),
    // Every revision falls back to the stable Service: a canary's failures are served by stable, a stable
    // pod's by another stable replica. Fallback requests are marked so they never fall back again.
    "--fallback-upstream",
    stable,
    ...(lg.redact ?? []).flatMap((p) => ["--redact", p]),
    ...(lg.headers ?? []).flatMap((h) => ["--header-allowlist", h]),
    // Canonical (sorted keys) so a revision rendered again from its stored spec hashes the same.
    ...(spec.additionalModels?.length
      ? modelFeatureArgs(spec)
      : spec.model.features
        ? ["--features", canonicalJSON(spec.model.features)]
        : []),
    ...(spec.review ? reviewArgs(spec.review) : []),
  ];
}

/** spec.monitoring.review as flags: the event writer marks low-confidence predictions (docs/review.md). */
function reviewArgs(review: NonNullable<RevisionSpec["review"]>): string[] {
  return [
    "--review-threshold",
    String(review.threshold),
    "--review-sample-rate",
    String(review.sampleRate),
    "--review-output",
    review.output,
  ];
}

/** The pod facts an event writer reads from the downward API. */
const eventEnv = [
  {
    name: "MODELSHIP_REVISION",
    valueFrom: { fieldRef: { fieldPath: `metadata.labels['${labelKeys.revision}']` } },
  },
  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
];

/** The spool, the variants ConfigMap and the collector's token; `also` goes after the spool. */
function eventMounts(cfg: RenderConfig, spec: RevisionSpec, also: Record<string, unknown>[] = []) {
  return [
    { name: "spool", mountPath: paths.spool },
    ...also,
    { name: "variants", mountPath: paths.variants, readOnly: true },
    ...(loggerSendsToken(cfg, spec) ? [collectorTokenMount] : []),
  ];
}

/** The inference logger as a native sidecar (an init container that keeps running), for custom containers. */
function loggerContainer(md: ModelDeployment, cfg: RenderConfig, spec: RevisionSpec): Container {
  const upstreamPort = spec.runtime.container?.port ?? ports.serve;
  const port = loggerPort(spec);
  const ready = containerReadiness(spec);
  const args = [
    "logger",
    "--listen",
    `0.0.0.0:${port}`,
    "--upstream",
    `http://127.0.0.1:${upstreamPort}`,
    "--upstream-readiness",
    ready === "tcp" ? "tcp" : ready.path,
    ...eventArgs(md, cfg, spec, ["--model", spec.model.name, "--model-version", spec.model.version]),
  ];
  return {
    name: "logger",
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    restartPolicy: "Always",
    args,
    env: [
      ...eventEnv,
      // A small young generation and a heap cap keep the sidecar's RSS flat under load (see docs/logging.md).
      { name: "NODE_OPTIONS", value: "--max-semi-space-size=4 --max-old-space-size=64" },
    ],
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    readinessProbe: { httpGet: { path: "/readyz", port }, periodSeconds: 5 },
    livenessProbe: {
      httpGet: { path: "/healthz", port },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "256Mi" } },
    securityContext: restrictedContainer,
    volumeMounts: eventMounts(cfg, spec, [{ name: "tmp", mountPath: "/tmp" }]),
  };
}

/** Where Prometheus scrapes modelship's metrics: the model server, or for a custom container the logger. */
function metricsPort(spec: RevisionSpec): number {
  if (!spec.runtime.container) return ports.serve;
  return spec.logging.enabled ? loggerPort(spec) : spec.runtime.container.port;
}

/**
 * The pod template of one revision, without its revision label: the revision id is a hash of exactly this,
 * so nothing here may depend on time, role or replica count (a role change must not restart pods).
 */
export function podTemplate(md: ModelDeployment, cfg: RenderConfig, spec: RevisionSpec): K8sObject {
  const name = md.metadata.name;
  const claims = [
    ...new Set(
      [spec.model.uri, ...(spec.additionalModels ?? []).map((m) => m.uri)]
        .map(pvcClaim)
        .filter((c) => c !== undefined),
    ),
  ];
  const gpu = spec.resources.gpu;
  const useGpu = gpu !== undefined && gpu.count > 0;
  const sched = spec.scheduling;
  const nodeSelector: Record<string, string> = { ...(sched?.nodeSelector ?? {}) };
  if (useGpu && gpu.product) nodeSelector["nvidia.com/gpu.product"] = gpu.product;
  const tolerations = [
    ...(useGpu && gpu.tolerateTaint
      ? [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]
      : []),
    ...(sched?.tolerations ?? []),
  ];
  const logging = spec.logging.enabled;
  // Only a custom container needs the logger in front of it; serve records its own events.
  const sidecar = logging && spec.runtime.container !== undefined;
  return {
    metadata: {
      labels: {
        ...(spec.podMetadata?.labels ?? {}),
        ...commonLabels(name, "inference"),
        [labelKeys.version]: labelValue(spec.model.version),
        [labelKeys.modelVersion]: labelValue(spec.model.version),
      },
      annotations: {
        ...(spec.podMetadata?.annotations ?? {}),
        "prometheus.io/scrape": "true",
        "prometheus.io/port": String(metricsPort(spec)),
        "prometheus.io/path": "/metrics",
        "kubectl.kubernetes.io/default-container": spec.runtime.container ? "model" : "serve",
      },
    },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 30,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: "RuntimeDefault" },
      },
      ...(Object.keys(nodeSelector).length ? { nodeSelector } : {}),
      ...(tolerations.length ? { tolerations } : {}),
      ...(sched?.affinity ? { affinity: sched.affinity } : {}),
      ...(sched?.priorityClassName ? { priorityClassName: sched.priorityClassName } : {}),
      initContainers: [
        fetchContainer(cfg, spec.model.uri, paths.modelFile, spec.model.sha256, spec.model.credentialsSecret),
        ...additionalFetchContainers(cfg, spec),
        ...(sidecar ? [loggerContainer(md, cfg, spec)] : []),
      ],
      containers: [serveContainer(md, cfg, spec, !sidecar)],
      volumes: [
        { name: "models", emptyDir: {} },
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        ...(logging
          ? [
              { name: "spool", emptyDir: { sizeLimit: "1Gi" } },
              // optional: a pod started before the ConfigMap exists logs as --variant (stable) until it does
              { name: "variants", configMap: { name: variantsConfigMapName(name), optional: true } },
              ...(loggerSendsToken(cfg, spec) ? [collectorTokenVolume(name)] : []),
            ]
          : []),
        ...claims.map((claim) => ({
          name: `pvc-${claim}`,
          persistentVolumeClaim: { claimName: claim, readOnly: true },
        })),
      ],
    },
  };
}
